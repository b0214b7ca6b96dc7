"""The warm sandbox's fork server: it runs inside a bubblewrap box (autograder/sandbox.py, WarmBox), imports what
every notebook imports once, then forks one kernel per submission into namespaces of its own.

Standalone on purpose: the box holds this file and nothing else of the kit. Protocol, one JSON line each way on
stdin/stdout: {"op": "fork", "id", "connection_file", "answers": [host files], "slot": folder} -> {"pid"};
{"op": "poll", "id"} -> {"status": null | exit code}; {"op": "signal", "id", "signum"}; {"op": "kill", "id"}.

Per submission (all before any student code runs):
  C  (forked from here)   starts a session of its own (a kernel's kill(0) never reaches the server), closes the
                          control pipe, unshares mount, PID, IPC, network and UTS namespaces, forks G,
                          forwards signals to it and exits with its status;
  G  (PID 1 of the new PID namespace; every process of the submission dies with it)  mounts fresh size-capped
                          tmpfs on /tmp, /dev/shm and the home folder, binds the assignment files read-only into
                          the home folder, this submission's answer files onto /answers and its socket folder,
                          covers the rest of the spool (other submissions' sockets and keys) with an empty tmpfs,
                          drops every capability for good (bounding set, no_new_privs), installs a seccomp filter
                          (no keyrings, no ptrace, no process_vm_*), forks K and reaps orphans until K ends;
  K  (the kernel)         makes itself dumpable (its own /proc files), sets the resource limits, the environment and
                          the home folder, and starts ipykernel.
Neither the fork server nor G is dumpable, and ptrace is refused anyway: no process of a submission can stop, read or
change them. To end a submission the server kills G, the PID namespace's init, so every process of the namespace
dies with it, whatever it did to its own signals; the server reaps what is left. It runs no student code, and no
namespace of one submission outlives it: the next one starts from the clean state imported here.
"""
import ctypes
import json
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 8192, 0x4000, 1 << 18
STAGE = "/opt/latent_lab/stage"  # where each fresh tmpfs is prepared before it is moved in
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
libc = ctypes.CDLL(None, use_errno=True)


def call(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source, target, fstype=None, flags=0, data=None):
    call(libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None), f"mount {target}")


def drop_capabilities():
    """Bounding set (needs CAP_SETPCAP, which the box grants G with CAP_SYS_ADMIN), then every capability set."""
    for cap in range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1):
        call(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap} from the bounding set")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    call(libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")
    call(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


# refused with EPERM: the keyrings are per uid (two submissions would share one); ptrace and process_vm_* would let
# a kernel read or change another process of the same uid
REFUSED_SYSCALLS = {"x86_64": (248, 249, 250, 101, 310, 311),   # add_key, request_key, keyctl, ptrace,
                    "aarch64": (217, 218, 219, 117, 270, 271)}  # process_vm_readv, process_vm_writev
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def refuse_syscalls():
    """A seccomp filter, inherited by everything the submission starts: REFUSED_SYSCALLS fail with EPERM, another
    ABI (x32, 32-bit) is killed."""
    machine = os.uname().machine
    if machine not in REFUSED_SYSCALLS:
        raise OSError(f"no seccomp filter for {machine}")

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, kill, eperm = 0x7FFF0000, 0x80000000, 0x00050000 | 1
    refused = REFUSED_SYSCALLS[machine]
    n = len(refused)  # layout: checks, n syscall tests, then allow, eperm, kill
    rules = [Filter(load, 0, 0, 4), Filter(jeq, 0, n + 4, AUDIT_ARCH[machine]),  # another ABI: to kill
             Filter(load, 0, 0, 0), Filter(jge, n + 2, 0, 0x40000000),         # x32 numbers: to kill
             *(Filter(jeq, n - i, 0, number) for i, number in enumerate(refused)),  # to eperm
             Filter(ret, 0, 0, allow), Filter(ret, 0, 0, eperm), Filter(ret, 0, 0, kill)]
    program = Program(len(rules), (Filter * len(rules))(*rules))
    call(libc.prctl(22, 2, ctypes.byref(program), 0, 0), "seccomp")  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def forward_signals_to(pid):
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, lambda s, _frame: os.kill(pid, s))


def to_dev_null(log=None, keep=None):
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if log:  # LATENT_LAB_DEBUG_SANDBOX: the submission's own stderr, for the kit's developers
        os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
    first = 3 if keep is None else keep + 1
    if keep is not None:
        os.closerange(3, keep)
    os.closerange(first, 65536)  # the control pipe above all: no student process may speak to the fork server


def under(path, folder):
    return os.path.commonpath([path, folder]) == folder


def fresh_tmpfs(target, size_mb, keep):
    """A new empty tmpfs on target, prepared offstage and moved in, carrying the (path, read_only) in `keep` that
    lie under target (a venv in /tmp, this submission's socket folder): nothing else of the old one shows."""
    mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb << 20},mode=1777")
    for path, read_only in keep:
        if under(path, target):
            staged = os.path.join(STAGE, os.path.relpath(path, target))
            os.makedirs(staged, exist_ok=True)
            mount(path, staged, flags=MS_BIND | MS_REC)
            if read_only:
                mount(path, staged, flags=MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount(STAGE, target, flags=MS_MOVE)


def set_up_namespaces(settings, request):
    """In G: the submission's own filesystem view, then no capability left."""
    home = settings["home"]
    mount("none", "/", flags=MS_REC | MS_PRIVATE)
    try:  # its own /proc shows only its own processes. Where the kernel refuses (bwrap's covered /proc), the box's
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)  # shows: the server (PID 1, --as-pid-1) and C, both
    except OSError:                                          # not dumpable, so neither /proc/N/root nor mem opens
        pass
    answers = settings["answers"]
    mount("tmpfs", answers, "tmpfs", MS_NOSUID | MS_NODEV, "size=4096,mode=755")
    for source in request["answers"]:  # the only files under /answers, writable; nothing else can be made there
        target = os.path.join(answers, os.path.basename(source))
        open(target, "w").close()
        mount(source, target, flags=MS_BIND)
    mount("tmpfs", answers, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    socket_dir = os.path.dirname(request["connection_file"])
    mount(socket_dir, socket_dir, flags=MS_BIND)  # its own mount, carried when the spool is covered
    keep = [(path, True) for path in settings["python_roots"]] + [(socket_dir, False)]
    for target, size in (("/tmp", settings["tmp_mb"]), ("/dev/shm", settings["tmp_mb"]), (home, settings["work_mb"])):
        fresh_tmpfs(target, size, keep)
    for source in settings["assignment_files"]:  # read-only copies of vae.pt and the contract, as in a cold box
        target = os.path.join(home, os.path.basename(source))
        open(target, "w").close()
        mount(source, target, flags=MS_BIND)
        mount(source, target, flags=MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    spool = settings["spool"]
    if not any(under(spool, folder) for folder in ("/tmp", "/dev/shm", home)):  # else a fresh tmpfs covers it
        fresh_tmpfs(spool, 1, [(socket_dir, False)])  # only its own socket folder: no other slot, key or socket
        mount("tmpfs", spool, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)  # its own folder stays writable
    drop_capabilities()
    refuse_syscalls()


def run_kernel(settings, request):
    """In K: limits, environment, then ipykernel, as `python -m ipykernel_launcher -f FILE` would run it."""
    import resource

    limits = settings["limits"]
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_mb"] << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ.clear()
    os.environ.update(settings["environment"])
    os.chdir(settings["home"])
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=["-f", request["connection_file"]])


def start_submission(settings, request, report):
    """In C, just forked from the server: never returns. `report`: a pipe to the server, for G's pid."""
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the server gone, the submission goes too
        os.setsid()  # out of the server's process group: kill(0, SIGSTOP) in a kernel must not reach the server
        report = os.dup2(report, 3)
        to_dev_null(os.path.join(os.path.dirname(request["connection_file"]), "stderr.log")
                    if settings.get("debug") else None, keep=report)
        call(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS), "unshare")
        alive_read, alive_write = os.pipe()  # C holds the write end: EOF in G means C is gone
        g = os.fork()
        if g == 0:  # G: PID 1 of the submission's namespace
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            os.close(report)
            os.close(alive_write)
            os.set_blocking(alive_read, False)
            try:
                if os.read(alive_read, 1) == b"":  # C died before the death signal was set: nothing may stay
                    os._exit(71)
            except BlockingIOError:
                pass
            os.close(alive_read)
            os.setsid()  # a session and process group inside the namespace: kill(0) reaches only the submission
            set_up_namespaces(settings, request)
            k = os.fork()
            if k == 0:
                libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the kernel's own /proc files are its own; G stays closed
                run_kernel(settings, request)
                os._exit(0)
            forward_signals_to(k)
            while True:  # reap orphans; end with the kernel
                pid, status = os.waitpid(-1, 0)
                if pid == k:
                    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        os.close(alive_read)
        os.write(report, f"{g}\n".encode())  # G's pid, for the server to kill the whole namespace at the end
        os.close(report)
        forward_signals_to(g)
        while True:
            try:
                _, status = os.waitpid(g, 0)
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            except InterruptedError:
                continue
    except BaseException:  # noqa: BLE001  a child never returns into the server's loop
        import traceback

        traceback.print_exc()  # to /dev/null, or to the debug log
        os._exit(70)


def serve(settings):
    submissions = {}  # id -> (C's pid, G's pid)
    ended = {}        # pid -> exit status, for everything reaped (orphaned G's included: this is the box's PID 1)

    def reap():
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ended[pid] = os.waitstatus_to_exitcode(status)

    for line in sys.stdin:
        request = json.loads(line)
        op, kernel_id = request["op"], request.get("id")
        reply = {}
        reap()
        if op == "fork":
            report_read, report_write = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(report_read)
                start_submission(settings, request, report_write)
            os.close(report_write)
            with os.fdopen(report_read) as report:
                g = int(report.readline() or 0)  # empty: C failed before G existed
            submissions[kernel_id] = (pid, g)
            reply = {"pid": pid}
        elif op == "poll":
            reply = {"status": 0}
            if kernel_id in submissions:
                c, g = submissions[kernel_id]
                if c in ended and (not g or not os.path.exists(f"/proc/{g}") or g in ended):
                    reply = {"status": ended.pop(c)}
                    ended.pop(g, None)
                    del submissions[kernel_id]
                else:
                    reply = {"status": None}
        elif op in ("signal", "kill"):
            c, g = submissions.get(kernel_id, (None, None))
            targets = [g, c] if op == "kill" else [c]  # killing G, the namespace's init, kills all of it
            for pid in filter(None, targets):
                try:
                    os.kill(pid, signal.SIGKILL if op == "kill" else request["signum"])
                except ProcessLookupError:
                    pass
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main():
    settings = json.loads(sys.argv[1])
    del sys.path[0]  # this file's folder; the kernel adds its working folder itself, as ipykernel_launcher does
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ.update(settings["environment"])  # MPLBACKEND before matplotlib is imported
    for module in settings["preload"]:
        __import__(module)
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    serve(settings)


if __name__ == "__main__":
    main()
