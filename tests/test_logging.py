"""The kit's logging setup keeps a garbage-collected asyncio task's error from breaking the next ast.parse.

CPython 3.11.2 (Debian's, which the kit's .venv uses) fails an ast.parse with "SystemError: AST constructor recursion
depth mismatch" when the collector runs a finalizer during it that formats a traceback (3.11's carets parse source
too). asyncio's "Task exception was never retrieved" is such a finalizer: a kernel whose garbled output broke
nbclient's reader left one, and pytest's import of the checks for that submission raised.
"""
import subprocess
import sys

import course_config as cfg

SCRIPT = '''
import ast, gc, logging, sys
sys.path.insert(0, {kit!r})
from autograder.printable import configure_logging
configure_logging() if sys.argv[1] == "kit" else logging.basicConfig()
try:
    raise ValueError("Invalid Signature")
except ValueError as err:
    exc = err
class Finalizer:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it
    def __del__(self):
        logging.getLogger("asyncio").error("Task exception was never retrieved", exc_info=exc)
source = "\\n".join(f"def f{i}(x):\\n    return [x + {i} for x in range(3)]" for i in range(3000))
gc.set_threshold(50)
for _ in range(5):
    for _ in range(200):
        Finalizer()
    ast.parse(source)
print("parsed")
'''


def run(script, setup: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), setup], capture_output=True, text=True, timeout=120)


def test_a_collected_tasks_error_does_not_break_the_checks_import(tmp_path):
    script = tmp_path / "finalizer_during_parse.py"  # a file: the traceback reads its lines (and parses them)
    script.write_text(SCRIPT.replace("{kit!r}", repr(str(cfg.COURSE_ROOT))))
    with_kit = run(script, "kit")
    assert with_kit.stdout.strip() == "parsed", with_kit.stderr[-2000:]
    assert "Task exception was never retrieved" in with_kit.stderr and "Traceback" not in with_kit.stderr
    if sys.version_info < (3, 11, 5):  # the interpreter bug is there: without the kit's setup it strikes
        plain = run(script, "plain")
        assert "SystemError: AST constructor recursion depth mismatch" in plain.stderr
