"""What every setting of course_config.py must be, checked at each entry point before anyone is graded.

The CLI (every subcommand), nbgrader_config.py (so nbgrader's own commands and formgrader), each grading process
before its first submission (local and Dask workers, nbgrader's autograde) and the checks call `require()`: a
mistyped value stops with a message naming the setting, what it must be and the file, instead of raising inside a
kernel run and zeroing every student. A new setting without a rule here fails tests/test_settings.py.
"""
import ast
import functools
import math
import re
from pathlib import Path

import course_config as cfg
from autograder.errors import SettingsWrong  # noqa: F401  (callers catch it from here)
from reference import cpu_kernels

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")  # what nbgrader accepts as a course or assignment id, as a folder


def number(low=0.0, high=math.inf, whole=False):
    def ok(v):
        kind = int if whole else (int, float)
        return isinstance(v, kind) and not isinstance(v, bool) and low <= v <= high  # NaN fails both comparisons
    return ok


def one_of(*allowed):
    return lambda v: isinstance(v, type(allowed[0])) and v in allowed


def is_path(v) -> bool:
    return isinstance(v, (str, Path)) and str(v) != ""


def tolerance(v) -> bool:
    return isinstance(v, dict) and set(v) == {"atol", "rtol"} and all(map(number(), v.values()))


def cell_ids(v) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(c, str) and NAME.fullmatch(c) for c in v)


def points(v) -> bool:
    return isinstance(v, dict) and bool(v) and all(
        isinstance(cell, str) and isinstance(checks, dict) and bool(checks)
        and all(isinstance(k, str) and k.isidentifier() and number()(p) for k, p in checks.items())
        for cell, checks in v.items())


def graded_answers(v) -> bool:
    return isinstance(v, dict) and all(
        isinstance(names, (list, tuple)) and names and all(isinstance(n, str) and n.isidentifier() for n in names)
        for names in v.values())


LIMIT_KEYS = {"memory_mb": 1024, "file_mb": 1, "processes": 8, "work_mb": 16, "tmp_mb": 16}  # the least that runs


def sandbox_limits(v) -> bool:
    return isinstance(v, dict) and set(v) == set(LIMIT_KEYS) and all(
        number(low=LIMIT_KEYS[k], whole=True)(x) for k, x in v.items())


def source_list(v) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v)


# setting -> (test, what it must be). Every upper-case name in course_config.py has one.
RULES = {
    "COURSE_ROOT": (lambda v: isinstance(v, Path) and v.is_dir(), "the kit's folder (a Path)"),
    "COURSE_ID": (lambda v: isinstance(v, str) and NAME.fullmatch(v), "a name of letters, digits, _ or -"),
    "ASSIGNMENT_ID": (lambda v: isinstance(v, str) and NAME.fullmatch(v), "a name of letters, digits, _ or -"),
    "DATA_DIR": (is_path, "a folder path"),
    "FASHION_MNIST_SOURCES": (source_list, "a list of folder paths (strings; empty ones are skipped)"),
    "FIGURE_DIR": (is_path, "a folder path"),
    "DEMO_OUTPUT_DIR": (is_path, "a folder path"),
    "PREDICT_POINTS": (number(), "a number >= 0"),
    "EX5_INTERPRETATION_POINTS": (number(), "a number >= 0"),
    "GRADED_ANSWERS": (graded_answers, "{cell: [variable names]}"),
    "CHECK_POINTS": (points, "{cell: {check: points >= 0}}"),
    "TSNE_POINTS_WHEN_GRADING": (number(low=100, whole=True), "a whole number >= 100 (t-SNE needs ~90 neighbours)"),
    "SKIP_WHEN_GRADING": (cell_ids, "a list of cell ids"),
    "CELL_TIMEOUT_SECONDS": (number(low=1), "a number of seconds >= 1"),
    "SUBMISSION_TIMEOUT_SECONDS": (number(low=1), "a number of seconds >= 1"),
    "OUTPUT_LIMIT_BYTES": (number(low=1000, whole=True), "a whole number of bytes >= 1000"),
    "LATENT_TOLERANCE": (tolerance, "dict(atol=..., rtol=...), two numbers >= 0"),
    "IMAGE_TOLERANCE": (tolerance, "dict(atol=..., rtol=...), two numbers >= 0"),
    "PIXEL_SCALE_MAX": (number(low=1e-9), "a number > 0"),
    "EX5_MIN_CODES": (number(low=1, whole=True), "a whole number >= 1"),
    "EX5_MIN_TECHNIQUES": (number(low=1, whole=True), "a whole number >= 1"),
    "EX5_MAX_CODES": (number(low=1, whole=True), "a whole number >= 1"),
    "EX5_DUPLICATE_PIXEL_DISTANCE": (number(), "a number >= 0"),
    "EX5_ON_TARGET_SHARE": (number(high=1), "a number in [0, 1]"),
    "DECODED_LIKE_DISTANCE": (number(low=1e-9), "a number > 0"),
    "DECODED_MIN_CONTRAST": (number(), "a number >= 0"),
    "SANDBOX": (one_of("bwrap", "none"), '"bwrap" or "none"'),
    "SANDBOX_WARM": (one_of(True, False), "True or False"),
    "GRADING_THREADS": (number(low=1, whole=True), "a whole number >= 1"),
    "CPU_KERNELS": (one_of(*cpu_kernels.PINNED), " or ".join(map(repr, cpu_kernels.PINNED))),
    "SANDBOX_LIMITS": (sandbox_limits, "dict(" + ", ".join(f"{k}=whole number >= {n}" for k, n in LIMIT_KEYS.items())
                       + ")"),
    "FEEDBACK_ON_SUBMIT": (one_of("full", "score", "format", "off"), '"full", "score", "format" or "off"'),
    "FEEDBACK_PER_DAY": (lambda v: v is None or number(low=1, whole=True)(v), "None (no limit) or a whole number >= 1"),
    "FEEDBACK_UNTIL_DUE_DATE": (one_of(True, False), "True or False"),
    "SERVICE_WORKERS": (number(low=1, high=64, whole=True), "a whole number from 1 to 64"),
    "SERVICE_POLL_SECONDS": (number(low=0.05, high=60), "a number of seconds from 0.05 to 60"),
}
TOGETHER = [  # rules between settings, checked once each alone is right: (test, what must hold)
    (lambda m: m.SUBMISSION_TIMEOUT_SECONDS >= m.CELL_TIMEOUT_SECONDS,
     "SUBMISSION_TIMEOUT_SECONDS (the whole notebook) must be at least CELL_TIMEOUT_SECONDS (one cell)"),
    (lambda m: m.EX5_MAX_CODES >= m.EX5_MIN_CODES, "EX5_MAX_CODES must be at least EX5_MIN_CODES"),
]


def checks_in_files(cell_id: str) -> set:
    """The test_<check> functions of autograder/checks/test_<cell>.py, read without importing it (None: no file)."""
    path = Path(__file__).parent / "checks" / f"test_{cell_id}.py"
    if not path.is_file():
        return None
    return set(checks_in_source(path.read_text()))


@functools.lru_cache(maxsize=64)
def checks_in_source(source: str) -> frozenset:
    """Parsed once per process and source: require() runs before every submission's checks, and CPython 3.11.2's
    ast.parse raised "SystemError: AST constructor recursion depth mismatch" (gh-106905) in a grading worker
    that had just run a forking, printing submission, zeroing it with a grader error."""
    return frozenset(node.name.removeprefix("test_") for node in ast.parse(source).body
                     if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))


def cells_agree(module) -> list:
    """GRADED_ANSWERS and CHECK_POINTS name the same cells, and each cell's points name its checks."""
    found = []
    answers, points = set(module.GRADED_ANSWERS), set(module.CHECK_POINTS)
    if answers != points:
        found.append(f"GRADED_ANSWERS and CHECK_POINTS must name the same cells: only in GRADED_ANSWERS "
                     f"{sorted(answers - points)}, only in CHECK_POINTS {sorted(points - answers)}")
    for cell_id, checks in module.CHECK_POINTS.items():
        written = checks_in_files(cell_id)
        if written is not None and written != set(checks):
            found.append(f"CHECK_POINTS[{cell_id!r}] must give points to the checks of autograder/checks/test_{cell_id}"
                         f".py: checks without points {sorted(written - set(checks))}, points without a check "
                         f"{sorted(set(checks) - written)}")
    return found


def problems(module=cfg) -> list:
    """One line per setting of `module` that is missing or not what the kit needs."""
    missing = object()
    found = []
    for name, (ok, shape) in RULES.items():
        value = getattr(module, name, missing)
        if value is missing:
            found.append(f"{name} is missing: it must be {shape}")
        elif not ok(value):
            found.append(f"{name} must be {shape}, not {value!r}"[:300])
    if not found:
        found += [said for holds, said in TOGETHER if not holds(module)] + cells_agree(module)
    return found


def require(module=cfg) -> None:
    """SettingsWrong naming every setting that is not what the kit needs; nothing graded or changed before it."""
    found = problems(module)
    if found:
        raise SettingsWrong(f"{Path(module.__file__).resolve()} has settings the kit cannot use; nothing was graded "
                            "or changed. Fix them and run again:\n  " + "\n  ".join(found))
