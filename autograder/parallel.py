"""Grade many submissions at once, on local worker processes or a Dask cluster; this process writes every result.

    for submission, graded in grade_many(submissions, sandbox): ...                     # here, one by one
    for submission, graded in grade_many(submissions, sandbox, workers=2): ...          # local processes
    for submission, graded in grade_many(submissions, sandbox, scheduler="tcp://..."): ...  # a Dask scheduler

A submission travels as bytes (workers share no filesystem with this process): a worker parses it and grades it
through its own Pipeline (nbgrader's lists, a scratch gradebook, the reference loaded once per worker process) and
sends the executor's Graded back. Results arrive in the order they finish; the caller is the only writer of
results.json and of any gradebook. A worker that dies while grading has the submission retried once on another
worker, then it is graded zero with the reason. Local workers are plain processes with a pipe each (LocalWorkers)
and take the warm boxes this process started before them (sandbox.BoxPool), so the boxes' imports overlap the
workers' start; a cluster is Dask's (its `allowed-failures` = 1 retries). A problem of the machine
(MachineProblem: no sandbox, kernels that do not start) stops the batch, as in the serial run.

Workers need the kit (its code, .venv, data, sandbox), started from its root:
    PYTHONPATH=$PWD .venv/bin/dask worker tcp://SCHEDULER:8786 --nthreads 1
"""
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from autograder import executor
from autograder.printable import configure_logging
from autograder.errors import MachineProblem
from autograder.submission import read_submission_file
from autograder.sandbox import exit_on_sigterm, sweep_stale

log = logging.getLogger(__name__)
IN_FLIGHT_PER_WORKER = 3  # Dask: submissions sent ahead per worker thread, enough to keep it busy, few in memory
ALLOWED_FAILURES = 1  # a worker death retries the submission once elsewhere; a second one grades it zero
# A Dask scheduler and workers started by hand take this as DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1.
# What the local workers' fork server imports once for all of them; it imports, never runs anything, so forking
# from it is safe.
WORKER_PRELOAD = ["autograder.parallel", "autograder.pipeline", "autograder.grade"]
WORKER_START_SECONDS = 120  # a fresh worker says it is ready in well under a second once the fork server runs


@dataclass
class Submission:
    student: str            # its key in the results (the path relative to the folder graded)
    name: str               # the file name
    data: bytes = None      # the file's bytes, or None when it was not read
    unread: str = ""        # why it was not read (a link, a fifo, too big...)


def read(path: Path, student: str, root: Path = None) -> Submission:
    """The submission as bytes, read here with the executor's rules (a worker never opens a student's path)."""
    try:
        return Submission(student, Path(path).name, read_submission_file(path, root))
    except ValueError as err:
        return Submission(student, Path(path).name, unread=str(err))
    except OSError as err:
        return Submission(student, Path(path).name, unread=f"it could not be opened ({type(err).__name__})")


_pipelines = {}  # one per worker process and sandbox setting: its scratch gradebook and loaded reference


def grade_on_worker(submission: Submission, sandbox: str, box_pool: str = None) -> executor.Graded:
    """The task a worker runs: parse, then the whole pipeline. Raises only MachineProblem. box_pool: the address
    of the client's BoxPool, where a local worker takes its warm box."""
    from autograder.pipeline import Pipeline
    from autograder.sandbox import at_exit

    if sandbox not in _pipelines:
        if box_pool:
            executor.offer_box_pool(box_pool)
        _pipelines[sandbox] = Pipeline(sandbox)
        at_exit(_pipelines[sandbox].close)
    return grade_with(_pipelines[sandbox], submission)


def grade_with(pipeline, submission: Submission) -> executor.Graded:
    from autograder.submission import parse_submission, stand_in

    nb = (parse_submission(submission.data, name=submission.name) if submission.data is not None
          else stand_in(submission.unread, submission.name))
    graded = pipeline.grade(nb, submission.student)
    graded.name = submission.name
    return graded


def grade_many(submissions, sandbox: str, workers: int = None, scheduler: str = None, progress: bool = True,
               total: int = None, security=None):
    """Yield (submission, Graded) as each finishes: on workers when asked, else here, one after another.
    submissions may be a generator that reads each file when asked: only a few are held in memory at once.
    security: Dask's Security for the scheduler (autograder/cluster.py), None for a plain-TCP one allowed."""
    if workers or scheduler:
        yield from grade_in_parallel(submissions, sandbox, workers, scheduler, progress, total, security)
        return
    from autograder.pipeline import Pipeline

    with Pipeline(sandbox) as pipeline:
        for submission in tqdm(submissions, total=total, desc="grading", unit="notebook", file=sys.stderr,
                               disable=not progress):
            yield submission, grade_with(pipeline, submission)


def died_twice(submission: Submission, error: Exception) -> executor.Graded:
    from autograder.grade import not_run  # here only: the collecting process never imports torch otherwise

    reason = ("The grading worker died twice while running this notebook (two worker processes), so it was not "
              "graded. That usually means the notebook uses far more memory than the lesson needs; run it top to "
              "bottom yourself (Kernel > Restart Kernel and Run All Cells), fix what is slow or huge, and resubmit.")
    graded = executor.Graded(None, not_run(reason), f"worker died twice ({type(error).__name__})")
    graded.name = submission.name
    return graded


class LocalWorkers:
    """`count` grading processes on this machine, forked from a fork server that imported the kit once (each would
    otherwise spend ~3 CPU-s importing torch, nbgrader and the checks). Each grades one submission at a time, so a
    worker that dies while grading is charged to that submission alone; one found dead between submissions is
    replaced and charges nobody. Plain processes and pipes: Dask's scheduler, nanny and heartbeats cost ~10% of the
    throughput of two workers on two cores, and buy nothing on one machine."""

    def __init__(self, count: int, sandbox: str, box_pool: str = None):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(WORKER_PRELOAD)  # read when the fork server starts: here, in the CLI
        self.sandbox, self.box_pool = sandbox, box_pool
        self.logging = (logging.getLogger().level, logging.getLogger("traitlets").level)  # the CLI's -v or not
        self.idle, self.busy, self.every = [], {}, set()  # busy: worker -> (submission, deaths so far)
        self.count = count
        self.start_missing()

    def start_missing(self) -> None:
        """Start workers until there are `count`; MachineProblem when one dies before it is ready (no submission
        had reached it: never a student's doing)."""
        while len(self.idle) + len(self.busy) < self.count:
            ours, theirs = self.context.Pipe()
            process = self.context.Process(target=_serve, args=(theirs, self.sandbox, self.box_pool, self.logging,
                                                                os.getpid()),
                                           name="latent-lab-worker", daemon=True)
            process.start()
            theirs.close()
            worker = _Worker(process, ours)
            self.every.add(worker)
            try:
                reply = ours.recv() if ours.poll(WORKER_START_SECONDS) else None
                worker.watch()  # its pidfd: the fork server's own end does not fool us if the server dies
            except (EOFError, OSError):
                reply = None
            if reply != "ready":
                worker.stop(10)
                raise MachineProblem(reply[1] if isinstance(reply, tuple) else "a grading worker process did not "
                                     f"start (exit status {process.exitcode}); run without --workers to see why")
            self.idle.append(worker)

    def send(self, submission: Submission, deaths: int = 0) -> None:
        """To an idle worker; one that died since its last answer is replaced first (charging nobody)."""
        while True:
            self.start_missing()
            worker = self.idle.pop()
            try:
                worker.connection.send((grade_on_worker, submission))  # looked up now: a test may stand in its own
            except OSError:
                self._drop(worker)
                continue
            self.busy[worker] = (submission, deaths)
            return

    def results(self, timeout: float = None):
        """(submission, deaths, outcome) for each worker that answered or died since the last call; blocks until
        there is one, or `timeout` seconds (then maybe none). outcome: ("graded", Graded), ("raised", exception),
        or ("died", None)."""
        if not self.busy:
            time.sleep(timeout or 0)
            return []
        waiting = {w.connection: w for w in self.busy} | {w.pidfd: w for w in self.busy}
        ended = []
        for worker in {waiting[ready] for ready in multiprocessing.connection.wait(list(waiting), timeout)}:
            submission, deaths = self.busy.pop(worker)
            try:
                outcome = worker.connection.recv() if worker.connection.poll() else ("died", None)
            except (EOFError, OSError):  # it died before or while answering
                outcome = ("died", None)
            if outcome[0] == "died" or not worker.alive:
                self._drop(worker)  # replaced at the next send
            else:
                self.idle.append(worker)
            ended.append((submission, deaths, outcome))
        return ended

    def _drop(self, worker: "_Worker") -> None:
        """A worker found dead (taken out of idle or busy by the caller): its pipe and pidfd closed."""
        worker.stop(0)
        self.every.discard(worker)

    def close(self):
        """Busy workers are told to stop at once (SIGTERM: the batch stopped, what they grade is not wanted; they
        remove their scratch gradebooks and boxes on the way out); idle ones end their loop when their input closes;
        any still there after 10 s all told is killed, and what a killed one left is swept."""
        deadline = time.monotonic() + 10
        for worker in self.busy:
            worker.terminate()
        for worker in sorted(self.every, key=lambda w: w not in self.busy):
            worker.stop(max(0.0, deadline - time.monotonic()))
        self.every.clear()
        sweep_stale()


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.Process
    connection: object
    pidfd: int = None  # readable once the process has ended, whoever its parent is

    def watch(self):
        self.pidfd = os.pidfd_open(self.process.pid)

    @property
    def alive(self) -> bool:
        return self.pidfd is not None and not select.select([self.pidfd], [], [], 0)[0]

    def terminate(self):
        if self.pidfd is not None:
            signal.pidfd_send_signal(self.pidfd, signal.SIGTERM)

    def stop(self, wait: float):
        """Close its input (it ends its loop); kill it if it has not ended after `wait` seconds."""
        self.connection.close()
        if self.pidfd is None:
            self.process.kill()
            return
        if not select.select([self.pidfd], [], [], wait)[0]:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            select.select([self.pidfd], [], [], 10)
        os.close(self.pidfd)
        self.pidfd = None
        self.process.join(1)  # reaps it where the fork server still can; never blocks on one it cannot


def exit_with(client: int) -> None:
    """This worker ends the moment its client does: a client killed with SIGKILL (a crashed service) would
    otherwise leave it grading for nobody, and its box's fork server gone, saying why in the log. The fork server
    ending is not the client ending (the workers go on: tests/test_parallel.py). What it leaves in /tmp is swept at
    the next start."""
    try:
        watched = os.pidfd_open(client)
    except ProcessLookupError:
        os._exit(0)

    def watch():
        select.select([watched], [], [])
        os._exit(0)
    threading.Thread(target=watch, name="latent-lab-client-watch", daemon=True).start()


def _serve(connection, sandbox: str, box_pool: str, levels: tuple, client: int) -> None:
    """A local worker: proves it computes the reference answers alike and says "ready" (or ("problem", why) and
    ends), then (task, submission) in, ("graded", Graded) or ("raised", exception) out, until its input closes."""
    from autograder.reference_answers import get_reference

    configure_logging(levels[0])
    logging.getLogger("traitlets").setLevel(levels[1])
    exit_with(client)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the client's to handle: it stops the workers
    exit_on_sigterm()  # stopped by the client or an admin: its scratch gradebook and boxes go with it
    try:
        try:
            get_reference()  # the machine check, before any work reaches this worker
        except MachineProblem as err:
            connection.send(("problem", str(err)))
            return
        connection.send("ready")
    except OSError:  # the client is gone (killed while this worker started): nobody to answer
        return
    while True:
        try:
            task, submission = connection.recv()
        except (EOFError, OSError):
            return
        try:
            outcome = ("graded", task(submission, sandbox, box_pool))
        except Exception as err:  # noqa: BLE001  MachineProblem (or a fault of the grader): the client stops the batch
            outcome = ("raised", err)
            try:
                pickle.loads(pickle.dumps(err))
            except Exception:  # noqa: BLE001  one that does not travel: its type, words and traceback do
                outcome = ("raised", RuntimeError("".join(traceback.format_exception(err))))
        try:
            connection.send(outcome)
        except OSError:  # the client is gone (killed): nobody waits for this answer
            return


def grade_in_parallel(submissions, sandbox: str, workers: int = None, scheduler: str = None, progress: bool = True,
                      total: int = None, security=None):
    """Yield (submission, Graded) as each finishes, on local workers or a Dask cluster. Submissions are read only as
    workers are about to need them (a class of big notebooks never sits in memory at once). On MachineProblem the
    rest is cancelled and it is raised."""
    with tqdm(total=total, desc="grading", unit="notebook", file=sys.stderr, disable=not progress) as bar:
        grading = on_dask(submissions, sandbox, scheduler, bar, security) if scheduler else on_local_workers(
            submissions, sandbox, workers, bar)
        yield from grading


def on_local_workers(submissions, sandbox: str, workers: int, bar):
    # the workers' warm boxes start first: their imports run while the workers' fork server imports the kit
    pool = executor.box_pool(workers) if sandbox != "none" else None
    local, retry, failed = None, [], 0
    try:
        local = LocalWorkers(workers, sandbox, pool and pool.address)
        to_send = iter(submissions)

        def send_more():
            while len(local.busy) < local.count:
                item = retry.pop() if retry else next(((s, 0) for s in to_send), None)
                if item is None:
                    return
                local.send(*item)

        send_more()
        while local.busy:
            done, stop = [], None
            for submission, deaths, (kind, value) in local.results():
                if kind == "raised":
                    stop = stop or value
                elif kind == "died" and deaths < ALLOWED_FAILURES:
                    log.warning("%s: the worker grading it died; trying it once more on another", submission.student)
                    retry.append((submission, deaths + 1))
                elif kind == "died":
                    log.error("%s: the worker grading it died twice; graded zero", submission.student)
                    failed += 1
                    done.append((submission, died_twice(submission, RuntimeError("worker process ended"))))
                else:
                    done.append((submission, value))
            if stop is None:
                try:
                    send_more()  # before the caller writes what came back, so the workers have work meanwhile
                except MachineProblem as err:  # no worker could be started: what came back is still written
                    stop = err
            for submission, graded in done:
                bar.update()
                bar.set_postfix(running=len(local.busy), failed=failed)
                yield submission, graded
            if stop is not None:
                raise stop
    finally:
        try:
            if local is not None:
                local.close()
        finally:
            if pool is not None:
                pool.close()


def cluster_problem(err: Exception, doing: str) -> MachineProblem:
    """err as a MachineProblem: the batch stops with what went wrong and the fix, never a traceback or a zero."""
    if isinstance(err, MachineProblem):
        return err
    said = str(err).splitlines()[0][:300] if str(err) else ""
    return MachineProblem(f"the Dask cluster could not {doing} ({type(err).__name__}: {said}). Start the scheduler "
                          "and every worker from an environment where the kit is installed (the kit's .venv, or "
                          "`pip install -e` the kit), or with PYTHONPATH set to the kit's folder (README)")


def on_dask(submissions, sandbox: str, scheduler: str, bar, security=None):
    """On a Dask cluster: a few submissions sent ahead per worker thread; a worker that dies has its submission
    retried once elsewhere (the scheduler's allowed-failures), then it is graded zero."""
    from distributed import Client, as_completed
    from distributed.scheduler import KilledWorker

    from autograder.dask_check import ReferenceCheck

    try:
        client = Client(scheduler, timeout="30s", security=security)
    except (OSError, TimeoutError) as err:  # not there, or it refused our certificate (or we refused its)
        raise cluster_problem(err, f"be reached at {scheduler}") from err
    to_send, sent, finished, numbers = iter(submissions), {}, as_completed(), itertools.count()

    def send_more():
        ahead = IN_FLIGHT_PER_WORKER * max(sum(client.nthreads().values()), 1)  # workers may join
        for submission in itertools.islice(to_send, max(ahead - len(sent), 0)):
            future = client.submit(grade_on_worker, submission, sandbox, pure=False,
                                   key=f"grade-{next(numbers)}-{uuid.uuid4().hex}")  # nobody else can guess it
            sent[future] = submission
            finished.add(future)

    try:
        try:
            client.register_plugin(ReferenceCheck())  # on every worker now and as each joins, before it takes work
        except Exception as err:  # noqa: BLE001
            raise cluster_problem(err, "check its workers") from err
        send_more()
        failed = 0
        for future in finished:
            submission = sent.pop(future)
            try:
                graded = future.result()
                if not isinstance(graded, executor.Graded):  # what this client's own task returns, nothing else
                    raise MachineProblem(f"the Dask cluster returned a {type(graded).__name__} for {submission.student!r}")
            except KilledWorker as err:
                log.error("%s: the worker grading it died twice; graded zero", submission.student)
                graded, failed = died_twice(submission, err), failed + 1
            except Exception as err:  # a MachineProblem, or the cluster could not run the task: stop the batch
                for other in sent:
                    other.cancel()
                raise cluster_problem(err, f"grade {submission.student!r}") from err
            send_more()
            bar.update()
            bar.set_postfix(running=sum(map(len, client.processing().values())), failed=failed)
            yield submission, graded
    finally:
        client.close()
