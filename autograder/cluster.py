"""A Dask cluster only the instructor can use: mutual TLS with certificates the kit makes and keeps private.

    python -m autograder dask-certs [DIR]    # once: a CA and a certificate in DIR (default ~/.latent_lab/dask)

The scheduler, the workers and the grading client all run as the instructor and all present that certificate; the
scheduler accepts no connection without one signed by the CA, so nobody else can submit tasks, run code on the
workers (Dask's `Client.run`) or read results. The key never leaves DIR (0700, files 0600). A plain-TCP scheduler,
which any local user can reach, is refused unless the instructor says --insecure-scheduler.
"""
import datetime
import os
import stat
import sys
from pathlib import Path

DEFAULT_DIR = Path.home() / ".latent_lab" / "dask"
CA, CERT, KEY = "ca.pem", "instructor.pem", "instructor-key.pem"
DAYS = 365  # a course's length and then some; make new ones with --force


class ClusterSetupError(ValueError):
    """The certificates are missing, readable by others, or the scheduler's address is plain TCP; says what to do."""


def make_certificates(folder: Path, force: bool = False) -> Path:
    """A CA and one certificate it signed, with their keys, in folder (0700; files 0600)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(folder).expanduser()
    if (folder / KEY).exists() and not force:
        raise ClusterSetupError(f"{folder} already holds certificates: --force makes new ones (every scheduler and "
                                "worker must then be restarted with them)")
    old_umask = os.umask(0o077)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        now = datetime.datetime.now(datetime.timezone.utc)

        def certificate(subject, issuer, public_key, signing_key, ca: bool):
            return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                    .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                    .not_valid_after(now + datetime.timedelta(days=DAYS))
                    .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                    .sign(signing_key, hashes.SHA256()))

        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Latent Lab grading cluster CA")])
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Latent Lab grading cluster")])
        ca_cert = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
        cert = certificate(name, ca_name, key.public_key(), ca_key, ca=False)
        (folder / CA).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        (folder / CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / KEY).write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        for name in (CA, CERT, KEY):
            (folder / name).chmod(0o600)
    finally:
        os.umask(old_umask)
    return folder


def checked(folder: Path) -> Path:
    """folder, once its three files exist and nobody but this user can read the key."""
    folder = Path(folder).expanduser()
    missing = [name for name in (CA, CERT, KEY) if not (folder / name).is_file()]
    if missing:
        raise ClusterSetupError(f"no Dask certificates in {folder} ({', '.join(missing)} missing): run "
                                f"`python -m autograder dask-certs {folder}` and start the scheduler and workers "
                                "with them (README)")
    for path in (folder, folder / KEY):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ClusterSetupError(f"{path} can be read by other users: `chmod go= {path}` (whoever reads the key "
                                    "can run code on the grading workers)")
    return folder


def security(folder: Path):
    """Dask's Security for the grading client: our certificate, encryption required."""
    from distributed.security import Security

    folder = checked(folder)
    return Security(tls_ca_file=str(folder / CA), tls_client_cert=str(folder / CERT),
                    tls_client_key=str(folder / KEY), require_encryption=True)


def for_scheduler(address: str, certificates: Path, insecure: bool):
    """The Security to reach address with, or None for a plain-TCP one the instructor allowed."""
    if address.startswith("tls://"):
        return security(certificates)
    if insecure:
        return None
    raise ClusterSetupError(f"{address} is not a TLS address: on a plain-TCP scheduler anyone who reaches its port can "
                            "run code as the workers' user and hand in results. Start the cluster with the kit's "
                            "certificates (`python -m autograder dask-certs`, README) and use tls://..., or pass "
                            "--insecure-scheduler on a network only you can reach")


def add_scheduler_arguments(parser) -> None:
    """--scheduler and what it needs, for every command that can grade on Dask."""
    parser.add_argument("--scheduler", help="grade on a Dask cluster: the scheduler's address (tls://HOST:8786)")
    parser.add_argument("--dask-certs", type=Path, default=DEFAULT_DIR,
                        help=f"the cluster's certificates (`python -m autograder dask-certs`; default {DEFAULT_DIR})")
    parser.add_argument("--insecure-scheduler", action="store_true",
                        help="allow a plain-TCP scheduler (anyone who reaches it runs code as the workers' user)")


def scheduler_security(args):
    """The Security for args.scheduler (None without one, or a plain-TCP one allowed); ClusterSetupError else."""
    return for_scheduler(args.scheduler, args.dask_certs, args.insecure_scheduler) if args.scheduler else None


# Dask's HTTP server (dashboard, /info pages with logs, task keys and live call stacks of the grading code, /metrics)
# has no login: no routes, and only on loopback. --no-dashboard alone leaves /info served on every interface.
NO_HTTP = {"DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES": "[]", "DASK_DISTRIBUTED__WORKER__HTTP__ROUTES": "[]"}
NO_HTTP_FLAGS = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


def dask_flags(folder: Path) -> list:
    """What `dask scheduler` and `dask worker` need to require the certificates and serve no HTTP."""
    folder = checked(folder)
    return ["--tls-ca-file", str(folder / CA), "--tls-cert", str(folder / CERT), "--tls-key", str(folder / KEY),
            *NO_HTTP_FLAGS]


def add_arguments(parser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DIR,
                        help=f"where to write them (default {DEFAULT_DIR})")
    parser.add_argument("--force", action="store_true", help="replace the certificates there")


def run(args) -> int:
    try:
        folder = make_certificates(args.folder, args.force)
    except ClusterSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    flags = " ".join(dask_flags(folder))
    quiet = " ".join(f"{name}='{value}'" for name, value in NO_HTTP.items())
    print(f"Certificates in {folder} (0600). Start the cluster from the kit's folder with them:\n"
          f"  {quiet} PYTHONPATH=$PWD .venv/bin/dask scheduler --protocol tls --host PRIVATE_IP --port 8786 {flags}\n"
          f"  {quiet} PYTHONPATH=$PWD .venv/bin/dask worker tls://PRIVATE_IP:8786 --nthreads 1 {flags}\n"
          f"  .venv/bin/python -m autograder grade submissions/ --scheduler tls://PRIVATE_IP:8786 --dask-certs {folder}")
    return 0
