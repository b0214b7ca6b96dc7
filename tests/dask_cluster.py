"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker` processes from the kit's root,
with the kit's certificates (mutual TLS), as the README sets one up."""
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import cluster

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Cluster:
    address: str       # tls://127.0.0.1:PORT
    certificates: Path

    @property
    def options(self) -> list:
        """What the CLI needs to grade on it."""
        return ["--scheduler", self.address, "--dask-certs", str(self.certificates)]


@contextlib.contextmanager
def dask_cluster(folder: Path, worker_envs=({}, {}), scheduler_env=None):
    """A scheduler (scheduler_env added to its environment) and one single-threaded worker per entry of worker_envs
    (added to each worker's environment); yields its Cluster, and stops every process on the way out."""
    bin_dir = Path(sys.executable).parent
    folder = Path(folder)
    certificates = cluster.make_certificates(folder / "certificates")
    flags = cluster.dask_flags(certificates)
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False", **cluster.NO_HTTP}
    processes = [subprocess.Popen([bin_dir / "dask", "scheduler", "--protocol", "tls", "--host", "127.0.0.1",
                                   "--port", "0", "--scheduler-file", scheduler_file, *flags],
                                  cwd=ROOT, env={**env, **(scheduler_env or {})},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(120):  # bounded: the scheduler writes its address within seconds
            if scheduler_file.exists() and scheduler_file.read_text().strip():
                break
            time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        for extra in worker_envs:
            processes.append(subprocess.Popen([bin_dir / "dask", "worker", address, "--nthreads", "1",
                                               "--host", "127.0.0.1", *flags], cwd=ROOT,
                                              env={**env, **extra}, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="60s", security=cluster.security(certificates)) as client:
            client.wait_for_workers(len(worker_envs), timeout=120)
        yield Cluster(address, certificates)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
