"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker` processes from the kit's root."""
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def dask_cluster(folder: Path, worker_envs=({}, {}), scheduler_env=None):
    """A scheduler (scheduler_env added to its environment) and one single-threaded worker per entry of worker_envs
    (added to each worker's environment); yields the scheduler's address, and stops every process on the way out."""
    bin_dir = Path(sys.executable).parent
    scheduler_file = Path(folder) / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
           "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
    processes = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--no-dashboard", "--scheduler-file", scheduler_file], cwd=ROOT,
                                  env={**env, **(scheduler_env or {})},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(120):  # bounded: the scheduler writes its address within seconds
            if scheduler_file.exists() and scheduler_file.read_text().strip():
                break
            time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        for extra in worker_envs:
            processes.append(subprocess.Popen([bin_dir / "dask", "worker", address, "--nthreads", "1",
                                               "--no-dashboard", "--host", "127.0.0.1"], cwd=ROOT,
                                              env={**env, **extra}, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(len(worker_envs), timeout=120)
        yield address
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
