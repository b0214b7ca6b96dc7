"""Grade many submissions at once, on local worker processes or a Dask cluster; this process writes every result.

    for submission, graded in grade_many(submissions, sandbox): ...                     # here, one by one
    for submission, graded in grade_many(submissions, sandbox, workers=2): ...          # local processes
    for submission, graded in grade_many(submissions, sandbox, scheduler="tcp://..."): ...  # a Dask scheduler

A submission travels as bytes (workers share no filesystem with this process): a worker parses it and grades it
through its own Pipeline (nbgrader's lists, a scratch gradebook, the reference loaded once per worker process) and
sends the executor's Graded back. Results arrive in the order they finish; the caller is the only writer of
results.json and of any gradebook. A worker that dies while grading has the submission retried once on another
worker (Dask's `allowed-failures` = 1), then it is graded zero with the reason. Local workers take the warm boxes
this process started before them (sandbox.BoxPool), so the boxes' imports overlap the cluster's start. A problem
of the machine (MachineProblem: no sandbox, kernels that do not start) stops the batch, as in the serial run.

Workers need the kit (its code, .venv, data, sandbox), started from its root:
    PYTHONPATH=$PWD .venv/bin/dask worker tcp://SCHEDULER:8786 --nthreads 1
"""
import itertools
import logging
import multiprocessing
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from autograder import executor

log = logging.getLogger(__name__)
IN_FLIGHT_PER_WORKER = 3  # submissions sent ahead per worker thread: enough to keep it busy, few in memory
ALLOWED_FAILURES = 1  # a worker death retries the submission once elsewhere; a second one grades it zero
DASK_SETTINGS = {  # for local clusters; a scheduler and workers started by hand take them as DASK_* variables
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.worker.profile.enabled": False,  # its 10 ms stack sampling cost ~0.3 CPU-s per submission
    "distributed.worker.multiprocessing-method": "forkserver",  # local workers fork from one that imported the kit
}
# What the fork server imports once for every local worker (each would otherwise spend ~3 CPU-s importing torch,
# nbgrader and the checks); it imports, never runs anything, so forking from it is safe.
WORKER_PRELOAD = ["distributed", "autograder.parallel", "autograder.pipeline", "autograder.grade"]


@dataclass
class Submission:
    student: str            # its key in the results (the path relative to the folder graded)
    name: str               # the file name
    data: bytes = None      # the file's bytes, or None when it was not read
    unread: str = ""        # why it was not read (a link, a fifo, too big...)


def read(path: Path, student: str, root: Path = None) -> Submission:
    """The submission as bytes, read here with the executor's rules (a worker never opens a student's path)."""
    try:
        return Submission(student, Path(path).name, executor.read_submission_file(path, root))
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
    from autograder.nbgrader_steps import parse_submission, stand_in

    nb = (parse_submission(submission.data, name=submission.name) if submission.data is not None
          else stand_in(submission.unread, submission.name))
    graded = pipeline.grade(nb, submission.student)
    graded.name = submission.name
    return graded


def grade_many(submissions, sandbox: str, workers: int = None, scheduler: str = None, progress: bool = True,
               total: int = None):
    """Yield (submission, Graded) as each finishes: on workers when asked, else here, one after another.
    submissions may be a generator that reads each file when asked: only a few are held in memory at once."""
    if workers or scheduler:
        yield from grade_in_parallel(submissions, sandbox, workers, scheduler, progress, total)
        return
    from autograder.pipeline import Pipeline

    with Pipeline(sandbox) as pipeline:
        for submission in tqdm(submissions, total=total, desc="grading", unit="notebook", file=sys.stderr,
                               disable=not progress):
            yield submission, grade_with(pipeline, submission)


def died_twice(submission: Submission, error: Exception) -> executor.Graded:
    from autograder.grade import not_run  # here only: the collecting process never imports torch otherwise

    reason = ("The grading worker died twice while running this notebook (on two machines), so it was not "
              "graded. That usually means the notebook uses far more memory than the lesson needs; run it top to "
              "bottom yourself (Kernel > Restart & Run All), fix what is slow or huge, and resubmit.")
    graded = executor.Graded(None, not_run(reason), f"worker died twice ({type(error).__name__})")
    graded.name = submission.name
    return graded


def connect(workers: int = None, scheduler: str = None):
    """A Dask client: to the scheduler at `scheduler`, or to a new cluster of `workers` local processes."""
    import dask
    from distributed import Client, LocalCluster
    from distributed.utils import get_mp_context

    if scheduler:
        return Client(scheduler, timeout="30s"), None
    with dask.config.set(DASK_SETTINGS):
        get_mp_context()  # distributed sets its own preload list on its first call only; ours replaces it
        multiprocessing.get_context("forkserver").set_forkserver_preload(WORKER_PRELOAD)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    return Client(cluster), cluster


def grade_in_parallel(submissions, sandbox: str, workers: int = None, scheduler: str = None, progress: bool = True,
                      total: int = None):
    """Yield (submission, Graded) as each finishes. Submissions are read and sent a few per worker ahead (a class
    of big notebooks never sits in memory at once). On MachineProblem the rest is cancelled and it is raised."""
    # local workers' warm boxes start first: their imports run while distributed loads and the cluster starts
    pool = executor.box_pool(workers) if workers and not scheduler and sandbox != "none" else None
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    try:
        client, cluster = connect(workers, scheduler)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    to_send, sent, finished = iter(submissions), {}, as_completed()

    def send_more():
        ahead = IN_FLIGHT_PER_WORKER * max(sum(client.nthreads().values()), workers or 0, 1)  # workers may join
        for submission in itertools.islice(to_send, max(ahead - len(sent), 0)):
            future = client.submit(grade_on_worker, submission, sandbox, pool and pool.address, pure=False,
                                   key=f"grade-{next(numbers)}-{submission.name}")
            sent[future] = submission
            finished.add(future)

    numbers = itertools.count()
    try:
        send_more()
        failed = 0
        with tqdm(total=total, desc="grading", unit="notebook", file=sys.stderr, disable=not progress) as bar:
            for future in finished:
                submission = sent.pop(future)
                try:
                    graded = future.result()
                except KilledWorker as err:
                    log.error("%s: the worker grading it died twice; graded zero", submission.student)
                    graded, failed = died_twice(submission, err), failed + 1
                except Exception:  # MachineProblem, or a fault of the grader itself: stop, as the serial run does
                    for other in sent:
                        other.cancel()
                    raise
                send_more()
                bar.update()
                bar.set_postfix(running=sum(map(len, client.processing().values())), failed=failed)
                yield submission, graded
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        if pool is not None:
            pool.close()
