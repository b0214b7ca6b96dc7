"""nbgrader's filesystem exchange, collected as data: nothing a student put in inbound is followed or believed.

On a shared filesystem every student can write into the exchange's inbound folder, and nbgrader's collect (run by
the instructor, with the instructor's rights) trusts what it finds there. CheckedCollect, installed by
nbgrader_config.py for `nbgrader collect` and formgrader's Collect button, instead:
- sets aside (renamed in inbound, never collected, logged) every entry it cannot take as a submission of this
  assignment: a name that does not parse or whose time is not a date, a file or link instead of a folder, a folder
  written by another user than the one it names (bob's "alice+..." submission). Every other student is collected;
- copies only regular files and folders the student owns, inside the submission folder, within nbgrader's size caps
  and MAX_FILES: a link (to the course's solutions, say), a hard link to someone else's file, a fifo or a device is
  left out, logged, and named in the student's feedback (NOTES_FILE, read by autograder/nbgrader_steps.py);
- records the time it observed: the newest change time (ctime, which no user can set) of the folder and everything
  in it, or the student's own claim where that is later. A back-dated submission is late all the same;
- drops the collected copies of the files shipped with the assignment (vae.pt, the contract) when unchanged: the
  grader always uses the course's own, and 300 copies of the model are 1.2 GB.
CheckedReleaseFeedback releases only the feedback page of the assignment's own notebook, never another file.
"""
import collections
import datetime
import filecmp
import fnmatch
import glob
import hashlib
import itertools
import json
import os
import pwd
import secrets
import shutil
import stat
import tempfile

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.utils import notebook_hash, parse_utc

from autograder.printable import printable

SHIPPED_FILES = ["vae.pt", "latent_lab_contract.py"]  # the release's files besides the notebook
SET_ASIDE_PREFIX = "not-collected-"  # no '+' in it: nbgrader's inbound pattern never matches it again
NOTES_FILE = "latent_lab_collect.json"  # what collect left out of a submission, for the student's feedback
MAX_FILES = 100  # files and folders copied from one submission; the assignment needs four
MAX_DEPTH = 8    # folder levels below the submission folder
MAX_SEEN = 10_000  # entries looked at for a submission's time; beyond, it counts as changed when collected
SAID_PER_OWNER = 5  # entries set aside that a collect names one by one per owner; the rest in one line
WRITTEN_BY_COLLECT = {"timestamp.txt"}  # a student's own (a file or a folder) is never copied: collect writes it


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def observed_time(folder: str) -> datetime.datetime:
    """The newest ctime of the folder and what is in it, without following links: when its content last changed,
    as the kernel saw it (utime cannot set a ctime). A folder of more than MAX_SEEN entries counts as changed now.
    Naive UTC, as nbgrader's parse_utc gives."""
    entries = (os.path.join(root, name) for root, dirs, files in os.walk(folder) for name in dirs + files)
    newest = os.lstat(folder).st_ctime
    for seen, path in enumerate(entries):
        if seen >= MAX_SEEN:
            newest = datetime.datetime.now().timestamp()
            break
        newest = max(newest, os.lstat(path).st_ctime)
    return datetime.datetime.fromtimestamp(newest, datetime.timezone.utc).replace(tzinfo=None)


class CheckedCollect(ExchangeCollect):

    def init_src(self):
        """nbgrader's init_src with one listing of inbound, judged entry by entry: what a student adds, renames or
        removes while collect runs can neither slip past the checks (nbgrader lists inbound a second time) nor stop
        anyone else's collect. Each student's newest acceptable entry is taken, as nbgrader takes it."""
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = inbound = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(inbound):
            self.fail(f"Course not found: {inbound}")
        if not os.access(inbound, os.R_OK | os.X_OK):
            self.fail(f"You don't have read permissions for the directory: {inbound}")
        wanted = self.coursedir.student_id or "*"
        records, aside_by = [], collections.Counter()  # owner -> entries set aside (a flood is said in one line)
        for name in sorted(os.listdir(inbound)):
            problem = self.problem_with(inbound, name)
            if problem:
                try:
                    owner = owner_name(os.lstat(os.path.join(inbound, name)).st_uid)
                except OSError:
                    continue
                aside_by[owner] += 1
                self.set_aside(inbound, name, problem, say=aside_by[owner] <= SAID_PER_OWNER)
            elif problem == "" and fnmatch.fnmatchcase(name, f"*+{self.coursedir.assignment_id}+*"):
                student = name.rsplit("+", 3)[0]
                if student == wanted or (any(c in wanted for c in "*?[") and fnmatch.fnmatchcase(student, wanted)):
                    try:
                        records.append(self._path_to_record(os.path.join(inbound, name)))
                    except FileNotFoundError:  # removed by its student meanwhile: nothing to collect
                        continue
        for owner, count in aside_by.items():
            if count > SAID_PER_OWNER:
                self.log.error("Not collected: %d more entries written by %s, set aside in %s", count - SAID_PER_OWNER,
                               owner, inbound)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                self.duedate = gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for student in sorted({r["username"] for r in records}):
            theirs = self._sort_by_timestamp([r for r in records if r["username"] == student])
            on_time = [r for r in theirs if self.duedate is not None and r["timestamp"] <= self.duedate]
            self.src_records.append(on_time[0] if self.before_duedate and on_time else theirs[0])

    def problem_with(self, inbound: str, name: str):
        """Why the inbound entry `name` cannot be taken as a submission of this assignment; '' when it can, or when
        it is not this assignment's at all; None when it is gone (its student removed it meanwhile). Every name
        nbgrader's own pattern (`*+<assignment>+*`) would pick up is judged here; nothing raises."""
        if name.startswith(SET_ASIDE_PREFIX) or not fnmatch.fnmatchcase(name, f"*+{self.coursedir.assignment_id}+*"):
            return ""
        path = os.path.join(inbound, name)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        parts = name.rsplit("+", 3)  # as nbgrader reads it: user+assignment+time+random (a user name may hold "+")
        if len(parts) != 4 or parts[1] != self.coursedir.assignment_id:
            return "its name is not <student>+<assignment>+<time>+<random>, as `nbgrader submit` writes it"
        if not stat.S_ISDIR(info.st_mode):
            return f"it is not a folder but a {'link' if stat.S_ISLNK(info.st_mode) else 'file'}"
        try:
            parse_utc(parts[2])
        except Exception as err:  # noqa: BLE001  dateutil raises more than ValueError for some time zone names
            return f"its time {printable(parts[2][:40])!r} is not a date ({type(err).__name__})"
        if owner_name(info.st_uid) != parts[0]:
            return (f"it claims to be {printable(parts[0][:80])}'s submission but was written by "
                    f"{owner_name(info.st_uid)}")
        if not os.access(path, os.R_OK | os.X_OK):
            return "its folder cannot be read (its owner took away the read permission)" if os.path.lexists(path) \
                else None
        return ""

    def set_aside(self, inbound: str, name: str, problem: str, say: bool = True) -> None:
        """Renamed to a short name of the kit's own (the student's name may be as long as a name can be); one that
        cannot be renamed is left where it is, logged, and still never collected."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        aside = f"{SET_ASIDE_PREFIX}{digest}-{secrets.token_hex(4)}"
        try:
            os.rename(os.path.join(inbound, name), os.path.join(inbound, aside))
        except FileNotFoundError:
            return
        except OSError as err:
            self.log.error("Not collected: %r: %s; it could not be set aside (%s)", printable(name[:300]), problem, err)
            return
        if say:
            self.log.error("Not collected: %r: %s; set aside as %r in %s", printable(name[:300]), problem, aside,
                           inbound)

    def note_missing_notebooks(self, submitted: str, release: str) -> None:
        """A submission without the assignment's notebook (an empty or unreadable folder) still reaches the
        gradebook, as a zero that says why: an empty file in the notebook's place (graded "not read" on every path,
        like any file that is not a notebook) and a line in the student's feedback."""
        for notebook in sorted(n for n in os.listdir(release) if n.endswith(".ipynb")):
            if not os.path.lexists(os.path.join(submitted, notebook)):
                open(os.path.join(submitted, notebook), "w").close()
                notes_path = os.path.join(submitted, NOTES_FILE)
                notes = []
                if os.path.isfile(notes_path):
                    with open(notes_path) as f:
                        notes = json.load(f)
                with open(notes_path, "w") as f:
                    json.dump([*notes, f"{notebook}: not in your submission, so nothing of yours was graded"], f)
                self.log.warning("Not collected from %s: no %s in the submission: it is graded as empty",
                                 os.path.basename(os.path.dirname(submitted)), notebook)

    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        claimed, seen = record["timestamp"], observed_time(path)
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)  # naive UTC, as parse_utc gives
        if claimed > now + datetime.timedelta(minutes=1):  # a claim in the future would hide every later submission
            self.log.warning("%s: claims to be submitted at %s, in the future: recorded at %s, when collect saw it",
                             printable(os.path.basename(path)[:300]), claimed, seen)
            claimed = seen
        if seen > claimed + datetime.timedelta(minutes=1):
            self.log.warning("%s: submitted at %s by its files, not at %s as it claims", os.path.basename(path),
                             seen.strftime("%Y-%m-%d %H:%M:%S UTC"), claimed.strftime("%Y-%m-%d %H:%M:%S UTC"))
        record["timestamp"] = max(claimed, seen)
        return record

    def do_copy(self, src, dest, log=None):
        """The student's own regular files and folders only (see the module's docstring); `left out` is written
        beside them for the feedback."""
        os.makedirs(dest)
        student = os.path.basename(os.path.dirname(os.path.normpath(dest)))  # submitted/<student>/<assignment>
        try:  # the student's own files only, whoever owns the folder by now (one swapped in after the listing)
            owner = pwd.getpwnam(student).pw_uid
        except KeyError:
            owner = None
        left_out = copy_owned(src, dest, owner, self.coursedir, self.log) if owner is not None else [
            "the whole submission: its student is not a user of this machine"]
        if left_out:
            with open(os.path.join(dest, NOTES_FILE), "w") as f:
                json.dump(left_out, f)

    def copy_files(self):
        super().copy_files()
        release = self.coursedir.format_path(self.coursedir.release_directory, ".", self.coursedir.assignment_id)
        for record in self.src_records:
            submitted = self.coursedir.format_path(self.coursedir.submitted_directory, record["username"],
                                                   self.coursedir.assignment_id)
            self.note_missing_notebooks(submitted, release)
            stamp = os.path.join(submitted, "timestamp.txt")
            if os.path.isdir(stamp) and not os.path.islink(stamp):  # left by a collect before this one refused it
                shutil.rmtree(stamp)
            fd, fresh = tempfile.mkstemp(dir=submitted)  # a name no file of the student's can hold
            with os.fdopen(fd, "w") as f:  # what the gradebook records
                f.write(record["timestamp"].replace(tzinfo=datetime.timezone.utc).strftime(self.timestamp_format))
            os.chmod(fresh, 0o644)
            os.replace(fresh, stamp)
            for name in SHIPPED_FILES:
                copy, shipped = os.path.join(submitted, name), os.path.join(release, name)
                if os.path.isfile(copy) and os.path.isfile(shipped) and filecmp.cmp(copy, shipped, shallow=False):
                    os.remove(copy)  # unchanged: the grader binds the course's own copy into the sandbox


def copy_owned(src: str, dest: str, owner: int, coursedir, log) -> list:
    """Copy what `owner` owns below src into dest, never following a link; ['name: why', ...] for what was not."""
    left_out, budget = [], {"files": MAX_FILES, "bytes": coursedir.max_dir_size * 1000}

    def leave_out(relative, why):
        left_out.append(f"{relative}: {why}")
        log.warning("Not collected from %s: %r: %s", os.path.basename(src), relative, why)

    def walk(folder, target, depth):
        try:
            with os.scandir(folder) as listing:
                entries = list(itertools.islice(listing, MAX_SEEN + 1))  # a folder of a million files: a few looked at
        except OSError as err:  # a folder its owner made unreadable (chmod 0300), or gone meanwhile
            leave_out(os.path.relpath(folder, src), f"it could not be read ({type(err).__name__})")
            return
        if len(entries) > MAX_SEEN:
            leave_out(os.path.relpath(folder, src), f"more than {MAX_SEEN} entries, the rest not looked at")
        for entry in sorted(entries[:MAX_SEEN], key=lambda e: e.name):
            relative = os.path.relpath(entry.path, src)
            if any(fnmatch.fnmatch(entry.name, pattern) for pattern in coursedir.ignore):
                continue
            if depth == 0 and entry.name in WRITTEN_BY_COLLECT:
                if not entry.is_file(follow_symlinks=False):  # nbgrader's Submit writes a plain file: not news
                    leave_out(relative, "collect writes this file itself (the time it saw the submission)")
                continue
            try:
                why = refusal(entry, owner, depth, budget, coursedir.max_file_size * 1000)
                if not why and entry.is_dir(follow_symlinks=False):
                    os.mkdir(os.path.join(target, entry.name))
                    walk(entry.path, os.path.join(target, entry.name), depth + 1)
                elif not why:
                    copy_file(entry.path, os.path.join(target, entry.name), budget)
            except PermissionError:  # its owner took away the read permission
                why = "it could not be read (permission denied)"
            except OSError as err:  # swapped for a link or removed while collect looked at it
                why = f"it changed while it was collected ({type(err).__name__})"
            if why:
                leave_out(relative, why)

    walk(src, dest, 0)
    return left_out


def refusal(entry, owner: int, depth: int, budget: dict, max_file_bytes: int) -> str:
    """Why this entry is not copied, or ''."""
    info = entry.stat(follow_symlinks=False)
    if stat.S_ISLNK(info.st_mode):
        return "a link (a submission holds files, not pointers to other files)"
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return "not a regular file (a fifo, a socket or a device)"
    if info.st_uid != owner:
        return f"it belongs to {owner_name(info.st_uid)}, not to the student who submitted"
    if stat.S_ISDIR(info.st_mode) and depth >= MAX_DEPTH:
        return f"folders nested deeper than {MAX_DEPTH} levels"
    if budget["files"] <= 0:
        return f"more than {MAX_FILES} files and folders"
    if stat.S_ISREG(info.st_mode) and info.st_size > min(max_file_bytes, budget["bytes"]):
        return f"{info.st_size / 1e6:.1f} MB: over the size limit"
    budget["files"] -= 1
    return ""


def copy_file(path: str, target: str, budget: dict) -> None:
    """One regular file, opened without following a link, at most its budgeted size."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as source, open(target, "wb") as copy:
        data = source.read(budget["bytes"] + 1)[:budget["bytes"]]
        copy.write(data)
    budget["bytes"] -= len(data)


class CheckedReleaseFeedback(ExchangeReleaseFeedback):
    """Releases each student's feedback page of the assignment's own notebook (a regular file, not a link), never
    any other file that reached feedback/; the rest is nbgrader's: the page is named by the submission's secret."""

    def copy_files(self):
        release = self.coursedir.format_path(self.coursedir.release_directory, ".", self.coursedir.assignment_id)
        notebooks = sorted(os.path.splitext(n)[0] for n in os.listdir(release) if n.endswith(".ipynb"))
        students = self.coursedir.student_id_exclude.split(",") if self.coursedir.student_id_exclude else []
        for folder in sorted(glob.glob(self.src_path)):
            student = os.path.basename(os.path.dirname(os.path.normpath(folder)))
            for notebook in notebooks:
                page = os.path.join(folder, f"{notebook}.html")
                if student in students or os.path.islink(page) or not os.path.isfile(page):
                    continue
                try:
                    with open(os.path.join(folder, "submission_secret.txt")) as f:
                        secret = f.read()
                except OSError:  # a folder made by hand, not by `nbgrader submit`: the student could not find it
                    self.log.warning("No feedback released for %r: the submission had no submission_secret.txt",
                                     student)
                    continue
                released = os.path.join(self.dest_path, f"{notebook_hash(secret=secret, notebook_id=notebook)}.html")
                shutil.copy(page, released + ".tmp")
                os.replace(released + ".tmp", released)  # a student reading it never sees half a page
                self.log.info("Feedback released for %r: %s", student, notebook)
