"""A class report for the instructor, from the kept answers of every graded submission (no notebook runs).

    python -m autograder report ASSIGNMENT --out report.html   # from the nbgrader course root
    python -m autograder report DIR --out report.html          # a folder written by `grade --out DIR`

One HTML page, opened in any browser: the score distribution per exercise and per check; the most frequent
diagnoses with their counts and one anonymised picture each; the Ex5 target categories chosen and how often they
were on target; the time each submission took; the submissions whose grading failed and why; and pairs to look at
(most Ex5 codes shared, nearly the same written answers), never a verdict.
"""
import base64
import difflib
import functools
import io
import itertools
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402

import course_config as cfg  # noqa: E402
from autograder import kept  # noqa: E402
from autograder.pages import page  # noqa: E402
from autograder.printable import printable  # noqa: E402

SAME_LATENTS = 1e-4   # max |difference| between two students' Ex5 codes for "the same" (honest ones differ by >0.1)
NEAR_COPY_SHARE = 0.9  # a pair is worth a look when this share of the smaller set of codes is in the other
SAME_TEXT = 0.9        # difflib ratio from which two written answers are "nearly the same"
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")  # 3, -0.25, 1e-05; not the 3 of ex3
UNREADABLE = "unreadable"  # Student.ex5 of answers that could not be read
MIN_ANSWER_CHARS = 20  # written answers shorter than this ("yes", "a boot") are alike by chance: never compared


@dataclass
class Student:
    name: str
    meta: dict                          # graded.json
    folder: Path                        # the kept answers
    written: dict = field(default_factory=dict)  # {grade id: text} of the written (manually graded) answers

    @property
    def points(self) -> dict:
        return {cell: sum(r["points"] for r in c["results"]) for cell, c in self.meta["cells"].items()}

    @functools.cached_property
    def ex5(self):
        """The kept Ex5 answers, read once for every table: None when nothing was exported, UNREADABLE when they
        cannot be read."""
        from autograder.answers import ExportUnreadable, load_cell_answers

        try:
            return load_cell_answers(self.folder, "ex5_experiment")
        except ExportUnreadable:
            return UNREADABLE

    @functools.cached_property
    def comparable_text(self) -> dict:
        """The written answers as compared across students: lower case, words only, single spaces."""
        return {grade_id: " ".join(re.findall(r"\w+", text.lower())) for grade_id, text in self.written.items()}


def gather(root: Path, folders, course: bool) -> tuple:
    """([Student], [(name, why) skipped]) for the graded folders under root: autograded/<student>/<assignment> of a
    course, or each submission's folder of a --out folder. Only what the kit wrote there is read."""
    students, skipped = [], []
    for graded in folders:
        name = str(graded.relative_to(root)).removesuffix(f"/{cfg.ASSIGNMENT_ID}")
        meta = kept.read(graded / kept.FOLDER)
        if meta is None:
            skipped.append((name, "no graded record the kit wrote"))
            continue
        notebook = kept.graded_notebook(graded, course)
        try:
            written = written_answers(notebook) if notebook else {}
        except Exception as err:  # noqa: BLE001  a class-wide step never stops on one student's file
            written = {}
            skipped.append((name, f"its graded notebook is not readable ({type(err).__name__}): written answers "
                                  "left out"))
        students.append(Student(name, meta, graded / kept.FOLDER, written))
    return students, skipped


@functools.cache
def released_sources() -> dict:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nbformat.read(
        cfg.COURSE_ROOT / "release" / cfg.ASSIGNMENT_ID / f"{cfg.ASSIGNMENT_ID}.ipynb", 4).cells}


def written_answers(path: Path) -> dict:
    """{grade id: text} of the answers graded by hand (PREDICT, interpretation) that the student changed."""
    released = released_sources()
    answers = {}
    for cell in nbformat.read(path, 4).cells:
        role = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and role.get("grade") and role.get("solution"):
            if cell.source.strip() != released.get(role.get("grade_id"), "").strip():
                answers[role["grade_id"]] = cell.source
    return answers


def figure_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def distributions(students) -> str:
    """One bar per score a student got in each exercise, its height the number of students, written on it."""
    cells = list(cfg.CHECK_POINTS)
    fig, axes = plt.subplots(1, len(cells), figsize=(4 * len(cells), 2.8), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        top = sum(cfg.CHECK_POINTS[cell].values())
        scores, counts = np.unique([s.points.get(cell, 0) for s in students], return_counts=True)
        bars = ax.bar(scores, counts, width=max(top, 1) / 20, color="#4c72b0", edgecolor="black")
        ax.bar_label(bars)
        ax.set_xlim(-top / 20 - 0.1, top + top / 20 + 0.1)
        ax.set_ylim(0, counts.max() * 1.25)
        ax.set_title(f"{cell} (of {top:g})", fontsize=10)
        ax.set_xlabel("points")
    axes[0][0].set_ylabel("students")
    for ax in axes[0]:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # no half students
    return figure_png(fig)


def pass_rates(students) -> dict:
    rates = {}
    for cell, checks in cfg.CHECK_POINTS.items():
        for check in checks:
            results = [r for s in students for r in s.meta["cells"].get(cell, {}).get("results", [])
                       if r["name"] == check]
            rates[(cell, check)] = (sum(r["points"] == r["max_points"] for r in results), len(results))
    return rates


def pass_rate_chart(rates: dict) -> str:
    labels = [f"{cell}: {check}" for cell, check in rates]
    values = [100 * passed / total if total else 0 for passed, total in rates.values()]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(labels) + 0.8))
    ax.barh(labels[::-1], values[::-1], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students passing")
    return figure_png(fig)


def diagnoses(students) -> list:
    """[(cell, check, message, count, example picture)] for each failure message, most frequent first."""
    found = defaultdict(list)
    for student in students:
        for cell, data in student.meta["cells"].items():
            for result in data["results"]:
                if result["points"] < result["max_points"] and result["message"] \
                        and not result["message"].startswith("Same cause"):  # said once, under its first check
                    message = NUMBER.sub("#", result["message"])  # numbers differ, the cause does not
                    found[(cell, result["name"], message)].append(student)
    rows = []
    for (cell, check, message), who in sorted(found.items(), key=lambda item: -len(item[1])):
        picture = next((p for s in who for p in s.meta["cells"][cell].get("pictures", [])), None)
        rows.append((cell, check, message, len(who), picture))
    return rows


def ex5_categories(students) -> list:
    """[(category, chosen by, on target)] from each student's kept Ex5 answers."""
    from autograder.exercises.ex5_experiment import target_category
    from reference import lesson

    chosen, on_target = Counter(), Counter()
    for student in students:
        answers, name = student.ex5, "(none readable)"
        if answers is None:
            name = "(nothing exported: the cell did not finish)"
        elif answers is not UNREADABLE:
            try:
                label = target_category(answers, strict=False)
                name = lesson.CATEGORY_NAMES[label] if label is not None else name
            except Exception:  # noqa: BLE001  NaN, a string, anything a student can export: not a category
                pass
        chosen[name] += 1
        results = {r["name"]: r for r in student.meta["cells"].get("ex5_experiment", {}).get("results", [])}
        passed = results.get("on_target", {})
        on_target[name] += bool(passed) and passed["points"] == passed["max_points"]
    return [(name, count, on_target[name]) for name, count in chosen.most_common()]


def look_at(students) -> list:
    """Pairs an instructor may want to look at: Ex5 latents that are nearly the same codes, nearly the same written
    answers. Compared on what the grader derived (the codes as read, text with case, punctuation and spacing
    normalised) and by share, so one extra code or one changed character does not hide a copy."""
    from autograder.exercises.ex5_experiment import all_codes

    codes = {}
    for student in students:
        try:
            readable = student.ex5 is not None and student.ex5 is not UNREADABLE
            codes[student.name] = all_codes(student.ex5) if readable else None
        except Exception:  # noqa: BLE001  anything a student can export that is not codes: nothing to compare
            codes[student.name] = None
    pairs = []
    for a, b in itertools.combinations(students, 2):
        why = []
        share = shared_codes(codes[a.name], codes[b.name])
        if share >= NEAR_COPY_SHARE:
            why.append(f"{share:.0%} of the Ex5 latents are the same codes")
        ta, tb = a.comparable_text, b.comparable_text
        same = [grade_id for grade_id in sorted(set(ta) & set(tb)) if nearly_same_text(ta[grade_id], tb[grade_id])]
        if same:
            why.append(f"nearly the same written answer in {len(same)} cell(s): {', '.join(same)}")
        if why:
            pairs.append((a.name, b.name, "; ".join(why)))
    return pairs


def shared_codes(a, b) -> float:
    """The share of the smaller set of codes that the other set holds too (within SAME_LATENTS), 0 when either is
    missing. Cheap where it cannot be high: far apart means, or a sample of codes mostly unmatched."""
    if a is None or b is None or not len(a) or not len(b):
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if len(small) < NEAR_COPY_SHARE * len(large) - 1 or np.abs(small.mean(0) - large.mean(0)).max() > 0.5:
        return 0.0

    def matched(codes):
        return int((np.abs(codes[:, None, :] - large[None, :, :]).max(axis=2) < SAME_LATENTS).any(axis=1).sum())

    sample = small[np.linspace(0, len(small) - 1, min(16, len(small))).astype(int)]
    if matched(sample) < NEAR_COPY_SHARE * len(sample) - 1:
        return 0.0
    return matched(small) / len(small)


def nearly_same_text(a: str, b: str) -> bool:
    """Two written answers of some length that differ by a few characters (difflib's ratio)."""
    if min(len(a), len(b)) < MIN_ANSWER_CHARS:
        return False
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= SAME_TEXT and matcher.quick_ratio() >= SAME_TEXT and matcher.ratio() >= SAME_TEXT


def times(students) -> str:
    seconds = [s.meta.get("seconds", {}).get("total", 0) for s in students]
    fig, ax = plt.subplots(figsize=(5, 2.5))
    ax.hist(seconds, bins=20, color="#8172b2")
    ax.set_xlabel("seconds to grade one submission")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure_png(fig)


def class_report_html(students, title: str, skipped=()) -> str:
    rates = pass_rates(students)
    return page("class_report.html.j2", title=title, students=students, skipped=skipped, cells=list(cfg.CHECK_POINTS),
                autograded_points=sum(sum(c.values()) for c in cfg.CHECK_POINTS.values()),
                distributions=distributions(students), rates=rates, pass_rate_chart=pass_rate_chart(rates), diagnoses=diagnoses(students)[:15],
                ex5_categories=ex5_categories(students), times=times(students),
                stopped=[(s.name, str(s.meta["problem"])) for s in students if s.meta.get("problem")],
                pairs=look_at(students))


def add_arguments(parser) -> None:
    parser.add_argument("target", help="the nbgrader assignment (run from the course root), or a folder written by "
                                       "`grade --out`")
    parser.add_argument("--out", type=Path, default=Path("report.html"),
                        help="the HTML file to write (default: report.html here)")


def run(args) -> int:
    target = Path(args.target)
    root = target if target.is_dir() else Path("autograded")
    try:
        folders = sorted(p.parent for p in root.rglob(kept.FOLDER)) if target.is_dir() else kept.in_course(
            root, args.target)
    except kept.NothingKept as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    students, skipped = gather(root, folders, course=not target.is_dir())
    for name, why in skipped:
        print(f"warning: {printable(name)!r}: {why}", file=sys.stderr)
    if not students:
        print(f"error: no kept answers under {target if target.is_dir() else 'autograded/'}: grade (or autograde) "
              "first", file=sys.stderr)
        return 2
    args.out.write_text(class_report_html(students, f"{cfg.COURSE_ID} / {cfg.ASSIGNMENT_ID}: class report", skipped))
    print(f"Class report of {len(students)} submissions: {args.out.resolve()}", file=sys.stderr)
    return 0
