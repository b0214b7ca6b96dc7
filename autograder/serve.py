"""Grade each submission as it arrives and hand its feedback back to the student within seconds.

    cd COURSE_ROOT && latent-lab serve [ASSIGNMENT] [--once] [--status] [--workers N]

It watches the exchange's inbound for ASSIGNMENT (nbgrader's layout). For each student's newest submission it
collects that student (CheckedCollect: forged names and links still refused), grades the notebook sandboxed on warm
local workers, records it through nbgrader's own autograde (as `latent-lab autograde` does: the gradebook has this
one writer besides formgrader, and manual grades stay), writes the feedback course_config's FEEDBACK_ON_SUBMIT
allows, and releases it (CheckedReleaseFeedback): the student's Fetch Feedback shows it.

Fair under load: each student holds one place in the queue (a newer submission replaces a waiting one) and students
are served in order of how long they have waited since their last grading, so one student's 50 submissions delay
nobody else; at most one submission of a student is graded at a time.

Nothing lost: each grading and each release is appended to latent_lab_service/<assignment>.jsonl (fsync) as it
happens. Restarted after a crash or kill -9, the service releases what was graded but not released, and grades
what was not graded; a submission the gradebook already holds graded is journaled, not graded again.
--once grades what is waiting and exits (cron, tests); --status prints the queue and the last gradings.
"""
import datetime
import fcntl
import json
import logging
import os
import shutil
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from nbgrader.utils import parse_utc, temp_attrs

import course_config as cfg

log = logging.getLogger("latent_lab.serve")
FOLDER = "latent_lab_service"   # in the course root, beside gradebook.db
SHOWN = {"full", "score", "format"}  # feedback kinds that show results; "limit", "due" and "off" do not
DB_RETRIES = 8                  # a gradebook write that meets formgrader's lock is tried again, 0.5 s apart and more
COLLECT_TRIES = 3               # a collect that fails (an exchange in trouble) is tried this often before it is
RETRY_SECONDS = 10              # journaled as failed, first after this long, then twice as long


# ------------------------------------------------------------------------------------------------- state on disk
class Journal:
    """Every grading, release and failure, one JSON line each, appended and fsynced before the next step."""

    def __init__(self, path: Path):
        self.path = path
        self.events = []
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    self.events.append(json.loads(line))
                except ValueError:  # the last line of a process killed while writing it: that step is redone
                    log.warning("%s: an unfinished line was skipped", path)

    def append(self, **event) -> dict:
        event["at"] = now().isoformat(timespec="seconds")
        with open(self.path, "a") as f:
            f.write(json.dumps(event) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.events.append(event)
        return event

    def of(self, kind: str, student: str = None) -> list:
        return [e for e in self.events if e["event"] == kind and student in (None, e["student"])]

    def done(self) -> set:
        """Inbound entries graded, replaced by a newer one graded, or failed: never taken again."""
        names = set()
        for event in self.of("graded") + self.of("failed"):
            names.update(event["covered"])
        return names

    def unreleased(self) -> list:
        """Each student's last grading, when its feedback was due and is not released (the page is made from the
        course's autograded folder, which holds the last one)."""
        released = {e["entry"] for e in self.of("released")}
        last = {e["student"]: e for e in self.of("graded")}
        return [e for e in last.values() if e["feedback"] != "off" and e["entry"] not in released]

    def last_served(self, student: str) -> float:
        served = self.of("graded", student) + self.of("failed", student)
        return max((datetime.datetime.fromisoformat(e["at"]).timestamp() for e in served), default=0.0)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class Entry:
    """A submission folder in the exchange's inbound: <student>+<assignment>+<time>+<random>."""
    name: str
    student: str
    claimed: str      # the time in its name (the student's claim: used only as nbgrader uses it, to find the newest)
    since: float      # its ctime: when it appeared, as the kernel saw it (no student can set it earlier)


class CollectedAnew(Exception):
    """The submission was collected again (an instructor's collect) while its grading was recorded."""


@dataclass(frozen=True)
class Taken:
    """A student's submission the service collected and grades."""
    entry: Entry        # the newest entry, the one collect took
    covered: list       # every entry of theirs it replaces (names)
    started: float      # when it was taken (time.time())
    waited_since: float  # when the oldest of them appeared
    stamp: str          # the submitted folder's timestamp.txt, as collect wrote it


def waiting(inbound: Path, assignment: str, done: set) -> dict:
    """{student: [Entry, ...]} of the inbound entries of `assignment` not yet graded, each in its owner's name (an
    entry in another's name gets no place in the queue: a flood of them would cost a collect each; the next collect
    sets them aside)."""
    from autograder.exchange import SET_ASIDE_PREFIX, owner_name

    found, names_of = defaultdict(list), {}
    try:
        names = os.listdir(inbound)
    except OSError:
        return {}
    for name in names:
        parts = name.rsplit("+", 3)
        if name.startswith(SET_ASIDE_PREFIX) or len(parts) != 4 or parts[1] != assignment or name in done:
            continue
        if not parts[0] or any(c in parts[0] for c in "*?["):  # no Unix user's name: collect sets it aside
            continue
        try:
            info = os.lstat(inbound / name)
        except OSError:
            continue
        if info.st_uid not in names_of:
            names_of[info.st_uid] = owner_name(info.st_uid)
        if names_of[info.st_uid] == parts[0]:
            found[parts[0]].append(Entry(name, parts[0], parts[2], info.st_ctime))
    return dict(found)


def fair_order(queue: dict, busy, journal: Journal) -> list:
    """Students to serve next: one place each, longest waiting since their last grading first (round-robin)."""
    def waited_since(student):
        return max(min(e.since for e in queue[student]), journal.last_served(student))
    return sorted((s for s in queue if s not in busy), key=lambda s: (waited_since(s), s))


def newest(entries: list) -> Entry:
    """The entry nbgrader's collect takes: the newest by the time in its name."""
    def claimed(entry):
        try:
            return parse_utc(entry.claimed)
        except Exception:  # noqa: BLE001  dateutil raises more than ValueError; collect sets such entries aside
            return datetime.datetime.min
    return max(entries, key=lambda e: (claimed(e), e.name))


# ------------------------------------------------------------------------------------------------- what students read
def feedback_kind(student: str, submitted_at, journal: Journal, duedate) -> str:
    """What this grading shows the student: FEEDBACK_ON_SUBMIT, unless the day's feedbacks are used ("limit") or
    it came after the due date ("due")."""
    if cfg.FEEDBACK_ON_SUBMIT == "off":
        return "off"
    if cfg.FEEDBACK_UNTIL_DUE_DATE and duedate is not None and submitted_at is not None and submitted_at > duedate:
        return "due"
    if cfg.FEEDBACK_PER_DAY is not None and len(shown_today(student, journal)) >= cfg.FEEDBACK_PER_DAY:
        return "limit"
    return cfg.FEEDBACK_ON_SUBMIT


def shown_today(student: str, journal: Journal) -> list:
    today = now().date().isoformat()
    return [e for e in journal.of("graded", student) if e["feedback"] in SHOWN and e["at"].startswith(today)]


def receipt(event: dict, journal: Journal) -> dict:
    """What every service feedback page states: when it was graded, the attempt, the feedback left today."""
    graded_at = datetime.datetime.fromisoformat(event["at"])
    shown = len([e for e in shown_today(event["student"], journal) if e["at"] <= event["at"]])
    tomorrow = datetime.datetime.combine(graded_at.date() + datetime.timedelta(days=1), datetime.time(),
                                         datetime.timezone.utc)
    if cfg.FEEDBACK_PER_DAY is None:
        left = "Feedback comes after every submission."
    else:
        left = (f"Feedback left today: {max(cfg.FEEDBACK_PER_DAY - shown, 0)} of {cfg.FEEDBACK_PER_DAY} "
                f"(the count starts again at {tomorrow:%H:%M UTC on %d %b}).")
    return {"graded_at": f"{graded_at:%H:%M:%S UTC on %d %b %Y}", "attempt": event["attempt"], "left": left,
            "next_opens": f"{tomorrow:%H:%M UTC on %d %b %Y}", "kind": event["feedback"],
            "score": event.get("score"), "max_score": event.get("max_score")}


def receipt_line(said: dict) -> str:
    return (f"Graded by the course's autograder at {said['graded_at']}, attempt {said['attempt']}. {said['left']} "
            "PREDICT and written cells are graded by your instructor later.")


def write_page(api, assignment: str, student: str, event: dict, journal: Journal) -> None:
    """The feedback page of this grading, where generate_feedback writes it, with the submission's secret beside it
    so release_feedback names it for this submission."""
    from autograder import exercises, kept, pages
    from autograder.nbgrader_steps import SubmitReceipt

    coursedir = api.coursedir
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    feedback = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    said = receipt(event, journal)
    if event["feedback"] == "full":
        SubmitReceipt.text = receipt_line(said)
        try:
            result = api.generate_feedback(assignment, student, force=True)
        finally:
            SubmitReceipt.text = ""
        if not result["success"]:
            raise RuntimeError(f"generate_feedback failed: {result.get('log', '')[-2000:]}")
        return
    meta = kept.read(autograded / kept.FOLDER) if event["feedback"] == "format" else None
    cells = []
    for cell_id, results in (kept.old_grades(meta) if meta else {}).items():
        shown = getattr(exercises.get(cell_id), "FORMAT_CHECKS", ())
        cells.append((exercises.get(cell_id).TITLE, [r for name, r in results.items() if name in shown]))
    feedback.mkdir(parents=True, exist_ok=True)
    page = pages.page("submit_feedback.html.j2", assignment=assignment, said=said, line=receipt_line(said),
                      cells=cells, problem=(meta or {}).get("problem", ""))
    fresh = feedback / f".{assignment}.html.new"
    fresh.write_text(page)
    fresh.replace(feedback / f"{assignment}.html")
    shutil.copy(autograded / "submission_secret.txt", feedback / "submission_secret.txt")


# ------------------------------------------------------------------------------------------------- the service
class Service:
    def __init__(self, api, assignment: str, journal: Journal):
        from autograder.autograde import graded_already

        self.api, self.assignment, self.journal = api, assignment, journal
        self.graded_already = graded_already
        coursedir = api.coursedir
        collect = api.exchange.Collect(coursedir=coursedir, authenticator=api.authenticator, parent=api)
        self.inbound = Path(collect.root) / coursedir.course_id / "inbound"
        self.in_flight = {}  # student -> Taken
        self.retry = {}      # student -> (time.time() to try their collect again, failed tries so far)
        self.regrade = set()  # students whose gradebook holds a result for another notebook than its timestamp's

    def queue(self) -> dict:
        return waiting(self.inbound, self.assignment, self.journal.done())

    def duedate(self):
        from nbgrader.api import MissingEntry

        try:
            with self.api.gradebook as gradebook:
                return gradebook.find_assignment(self.assignment).duedate
        except MissingEntry:
            return None

    def submitted_folder(self, student: str) -> Path:
        coursedir = self.api.coursedir
        return Path(coursedir.format_path(coursedir.submitted_directory, student, self.assignment))

    def stamp(self, student: str) -> str:
        try:
            return (self.submitted_folder(student) / "timestamp.txt").read_text()
        except OSError:
            return ""

    def collect(self, student: str, entries: list):
        """Collect the student's newest submission; Taken, or None when collect set every entry aside."""
        started = time.time()
        with temp_attrs(self.api.coursedir, student_id=student):
            result = self.api.collect(self.assignment, update=True)
        if not result["success"]:
            raise RuntimeError(f"collect failed: {(result.get('error') or result.get('log', ''))[-2000:]}")
        still_there = set(os.listdir(self.inbound))
        covered = [e for e in entries if e.name in still_there]
        if not covered:
            log.warning("%s: nothing collected (every new entry was set aside; the exchange's log says why)", student)
            return None
        return Taken(newest(covered), [e.name for e in covered], started, min(e.since for e in covered),
                     self.stamp(student))

    def start(self, student: str, entries: list, workers) -> None:
        """Collect one student and send the notebook to a worker (or record it, when the gradebook has it). A
        collect that fails is tried again later (RETRY_SECONDS, then twice as long); after COLLECT_TRIES the
        entries are journaled as failed, with the reason, for the instructor."""
        from autograder import parallel

        try:
            taken = self.collect(student, entries)
        except Exception as err:  # noqa: BLE001  one student's collect failing stops nobody else's
            tries = self.retry.get(student, (0, 0))[1] + 1
            if tries < COLLECT_TRIES:
                self.retry[student] = (time.time() + RETRY_SECONDS * 2 ** (tries - 1), tries)
                log.warning("%s: collect failed (%s); trying again later", student, str(err)[-300:])
            else:
                self.retry.pop(student, None)
                self.journal.append(event="failed", student=student, entry=newest(entries).name,
                                    covered=[e.name for e in entries], why=str(err)[-2000:])
                log.error("%s: collect failed %d times, not graded: %s", student, tries, str(err)[-500:])
            return
        self.retry.pop(student, None)
        if taken is None:
            return
        if student not in self.regrade and self.graded_already(self.api, self.assignment, student):
            # graded before a crash, not yet journaled
            log.info("%s: %s was graded before the service stopped; recorded, not graded again", student,
                     taken.entry.name)
            self.finish(student, None, taken)
            return
        self.regrade.discard(student)
        folder = self.submitted_folder(student)
        workers.send(parallel.read(folder / f"{self.assignment}.ipynb", student, folder))
        self.in_flight[student] = taken

    def autograde(self, student: str, graded) -> dict:
        """nbgrader's own autograde of the student with the worker's result; a locked gradebook is tried again."""
        from sqlalchemy.exc import SAWarning

        from autograder.nbgrader_steps import UseWorkerResult

        for attempt in range(DB_RETRIES):
            UseWorkerResult.results[student] = graded
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SAWarning)
                result = self.api.autograde(self.assignment, student, force=True, create=True)
            if result["success"] or "database is locked" not in result.get("log", "") + result.get("error", ""):
                return result
            log.warning("%s: the gradebook was busy (formgrader?); trying again", student)
            time.sleep(0.5 * (attempt + 1))
        return result

    def finish(self, student: str, graded, taken: Taken) -> None:
        """Record a graded submission (graded None: the gradebook has it already), then its feedback. What cannot be
        recorded is journaled as failed with the reason (--status shows it) and stops nobody else's grading. A
        submission collected anew while it was graded (formgrader's Collect) is not recorded: the newer one is
        graded next."""
        if self.stamp(student) != taken.stamp:
            log.info("%s: collected again while %s was graded; grading the newer submission", student,
                     taken.entry.name)
            return
        try:
            event = self.record(student, graded, taken)
        except CollectedAnew:
            self.regrade.add(student)
            log.info("%s: collected again while %s was recorded; grading the newer submission", student,
                     taken.entry.name)
            return
        except Exception as err:  # noqa: BLE001  the gradebook refused: named for the instructor, the service goes on
            self.journal.append(event="failed", student=student, entry=taken.entry.name, covered=taken.covered,
                                why=str(err)[-2000:])
            log.error("%s: %s was not recorded: %s", student, taken.entry.name, str(err)[-500:])
            return
        log.info("%s: %s graded %g / %g (attempt %d, feedback %s)", student, taken.entry.name, event["score"],
                 event["max_score"], event["attempt"], event["feedback"])
        self.release(event)

    def record(self, student: str, graded, taken: Taken) -> dict:
        if graded is not None:
            result = self.autograde(student, graded)
            if not result["success"]:
                raise RuntimeError("nbgrader's autograde failed: " + (result.get("error") or result.get("log", "")))
        with self.api.gradebook as gradebook:
            submission = gradebook.find_submission(self.assignment, student)
            submitted_at = submission.timestamp
            grades = [g for nb in submission.notebooks for g in nb.grades if g.cell.cell_type == "code"]
            auto, auto_max = sum(g.auto_score or 0 for g in grades), sum(g.max_score for g in grades)
        if graded is not None and taken.stamp.strip() and submitted_at != parse_utc(taken.stamp.strip()):
            raise CollectedAnew()  # an instructor's collect between finish's check and nbgrader's copy
        return self.journal.append(
            event="graded", student=student, entry=taken.entry.name, covered=taken.covered, score=auto,
            max_score=auto_max, attempt=len(self.journal.of("graded", student)) + 1,
            feedback=feedback_kind(student, submitted_at, self.journal, self.duedate()),
            submitted=submitted_at.isoformat() if submitted_at else None, since=taken.entry.since,
            waited_since=taken.waited_since, started=taken.started, seconds=round(time.time() - taken.started, 2))

    def release(self, event: dict) -> None:
        if event["feedback"] == "off":
            return
        student = event["student"]
        try:
            write_page(self.api, self.assignment, student, event, self.journal)
            result = self.api.release_feedback(self.assignment, student)
            if not result["success"]:
                raise RuntimeError(result.get("log", "")[-2000:])
        except Exception as err:  # noqa: BLE001  retried at the next start; the grade is recorded
            log.error("%s: feedback for %s not released (%s); the next start tries again", student, event["entry"],
                      err)
            return
        latency = time.time() - event["since"]
        self.journal.append(event="released", student=student, entry=event["entry"], latency=round(latency, 2))
        log.info("%s: feedback released %.1f s after the submission", student, latency)

    def run(self, workers, once: bool) -> None:
        from autograder import parallel

        for event in self.journal.unreleased():  # graded before a stop, not yet released
            self.release(event)
        while True:
            queue = self.queue()
            later = {student for student, (when, _) in self.retry.items() if when > time.time()}
            for student in fair_order(queue, set(self.in_flight) | later, self.journal):
                if len(workers.busy) >= workers.count:
                    break
                self.start(student, queue[student], workers)
            if once and not workers.busy and not any(s not in self.in_flight for s in self.queue()):
                return
            for submission, deaths, (kind, value) in workers.results(timeout=cfg.SERVICE_POLL_SECONDS):
                student = submission.student
                if kind == "raised":
                    raise value
                if kind == "died" and deaths < parallel.ALLOWED_FAILURES:
                    log.warning("%s: the worker grading it died; trying it once more on another", student)
                    workers.send(submission, deaths + 1)
                    continue
                graded = value if kind == "graded" else parallel.died_twice(submission, RuntimeError("worker ended"))
                self.finish(student, graded, self.in_flight.pop(student))


def status(journal: Journal, service: Service, running: bool) -> str:
    queue = service.queue()
    graded, failed = journal.of("graded"), journal.of("failed")
    latencies = sorted(e["latency"] for e in journal.of("released"))
    lines = [f"Service: {'running' if running else 'not running'} (journal {journal.path})",
             f"Waiting: {len(queue)} students, {sum(map(len, queue.values()))} submissions",
             f"Graded: {len(graded)} gradings of {len({e['student'] for e in graded})} students; "
             f"failed: {len(failed)}; feedback released: {len(latencies)}"
             + (f", median {latencies[len(latencies) // 2]:.1f} s after submission" if latencies else "")
             + (f"; not released yet: {len(journal.unreleased())} (tried again at each start)"
                if journal.unreleased() else ""),
             "Last gradings:"]
    lines += [f"  {e['at']}  {e['student']}  {e['score']:g}/{e['max_score']:g}  attempt {e['attempt']}  "
              f"feedback {e['feedback']}" for e in graded[-10:]] or ["  none yet"]
    lines += ["Failures:"] + [f"  {e['at']}  {e['student']}  {e['why'][:200]}" for e in failed[-5:]] if failed else []
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- the subcommand
def add_arguments(parser):
    parser.add_argument("assignment", nargs="?", default=cfg.ASSIGNMENT_ID)
    parser.add_argument("--once", action="store_true", help="grade what is waiting, then exit")
    parser.add_argument("--status", action="store_true", help="print the queue and the last gradings, then exit")
    parser.add_argument("--workers", type=int, default=cfg.SERVICE_WORKERS,
                        help="grading processes kept warm (course_config.SERVICE_WORKERS)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")


def run(args) -> int:
    import sys

    from autograder import executor, parallel
    from autograder.autograde import course_api
    from autograder.errors import MachineProblem
    from autograder.sandbox import sweep_stale

    log.setLevel(logging.INFO)  # a line per submission, whatever -v says of nbgrader's own logging
    folder = Path(FOLDER)
    api = course_api(args.verbose)
    folder.mkdir(mode=0o700, exist_ok=True)
    journal = Journal(folder / f"{args.assignment}.jsonl")
    service = Service(api, args.assignment, journal)
    lock = open(folder / f"{args.assignment}.lock", "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held = False
    except BlockingIOError:
        held = True
    if args.status:
        print(status(journal, service, held))
        return 0
    if held:
        print(f"error: a service already serves {args.assignment} in this course (--status says what it did)",
              file=sys.stderr)
        return 2
    sweep_stale()  # what a killed service's workers and boxes left in /tmp
    pool = executor.box_pool(args.workers) if cfg.SANDBOX != "none" else None
    workers = None
    try:
        workers = parallel.LocalWorkers(args.workers, cfg.SANDBOX, pool and pool.address)
        log.info("serving %s from %s with %d workers (feedback: %s)", args.assignment, service.inbound,
                 args.workers, cfg.FEEDBACK_ON_SUBMIT)
        service.run(workers, args.once)
    except MachineProblem as err:
        print(f"error: the service stopped: {str(err).rstrip('.')}. What was graded is recorded; restart it "
              "when fixed.", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    finally:
        if workers is not None:
            workers.close()
        if pool is not None:
            pool.close()
    return 0
