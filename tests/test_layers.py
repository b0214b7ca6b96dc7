"""The autograder's modules form layers with no cycle, as the README's table gives them: a module imports only
modules of lower layers (imports inside functions count too), and each imports on its own."""
import ast
import fnmatch
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import course_config as cfg

PACKAGE = Path(cfg.COURSE_ROOT) / "autograder"


def layers() -> dict:
    """{module: layer} from the table in docs/maintainers.md ("checks/test_ex4_grid" for
    autograder/checks/test_ex4_grid.py; `exercises/*` for every module in that folder)."""
    text = (Path(cfg.COURSE_ROOT) / "docs" / "maintainers.md").read_text()
    table = text[text.index("<!-- layers:"):]
    table = table[:table.index("\n\n", table.index("| Layer |"))]
    patterns = {name: int(layer) for layer, names in re.findall(r"^\| (\d+) \| (.*) \|$", table, re.M)
                for name in re.findall(r"`([\w/*]+)`", names)}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    found = {module: layer for pattern, layer in patterns.items() if "*" in pattern
             for module in fnmatch.filter(modules, pattern)}
    return found | {name: layer for name, layer in patterns.items() if "*" not in name}  # a name beats a pattern


def module_name(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").as_posix()


def imports_of(path: Path) -> set:
    """The kit modules a file imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("autograder"):
            base = node.module.removeprefix("autograder").lstrip(".").replace(".", "/")
            for alias in node.names:
                candidate = f"{base}/{alias.name}".lstrip("/")
                found.add(candidate if (PACKAGE / f"{candidate}.py").exists() else base or "__init__")
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("autograder.").replace(".", "/") for a in node.names
                      if a.name.startswith("autograder.")}
    return found - {module_name(path)}


def test_every_module_has_a_layer():
    assert {module_name(p) for p in PACKAGE.rglob("*.py")} - {"__init__"} == set(layers())


def test_no_module_imports_one_of_its_own_or_a_higher_layer():
    layer = layers()
    wrong = [f"{module_name(p)} (layer {layer[module_name(p)]}) imports {dep} (layer {layer.get(dep)})"
             for p in sorted(PACKAGE.rglob("*.py")) if module_name(p) in layer
             for dep in sorted(imports_of(p)) if dep in layer and layer[dep] >= layer[module_name(p)]]
    assert wrong == []


@pytest.mark.slow
def test_each_module_imports_alone():
    """A fresh interpreter per module: an import that only works after another module was loaded fails here."""
    names = ["autograder." + name.replace("/", ".") for name in layers() if name != "__main__"]

    def alone(name):
        run = subprocess.run([sys.executable, "-c", f"import {name}"], cwd="/", capture_output=True, text=True,
                             timeout=300)
        return name, run.returncode, run.stderr[-500:]

    with ThreadPoolExecutor(2) as pool:
        failed = [(name, err) for name, code, err in pool.map(alone, names) if code != 0]
    assert failed == []
