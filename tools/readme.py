"""The docs' statements of settings (points, tolerances, caps and time limits), written from course_config.py
(`make release` runs this).

    python -m tools.readme          # rewrite the generated blocks of README.md and docs/*.md

Each block sits between `<!-- generated: NAME ... -->` and `<!-- end NAME -->`, in whichever file tells of it; it is
generated, don't edit it. A test fails when a file differs from what this writes, so the docs never state a stale
point, tolerance or limit.
"""
import re
import sys

import course_config as cfg

README = cfg.COURSE_ROOT / "README.md"
DOCS = [README, *sorted((cfg.COURSE_ROOT / "docs").glob("*.md"))]  # where generated blocks may sit


def number(x) -> str:
    return f"{x:g}"


def predict_cells() -> list:
    """The lesson's PREDICT answer cells, as the built source notebook has them."""
    import nbformat

    from autograder.submission import SOURCE_NOTEBOOK

    return [cell.metadata["nbgrader"]["grade_id"] for cell in nbformat.read(SOURCE_NOTEBOOK, 4).cells
            if cell.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_predict")]


def points() -> str:
    predicts = predict_cells()
    rows = ["| Graded cell | Points | Split over the checks (`CHECK_POINTS`) or graded by hand |", "|---|---|---|"]
    for cell_id, checks in cfg.CHECK_POINTS.items():
        split = ", ".join(f"{name} {number(p)}" for name, p in checks.items())
        rows.append(f"| `{cell_id}_tests` | {number(sum(checks.values()))} | autograded: {split} |")
    rows.append(f"| `{predicts[0]}` ... `{predicts[-1]}` | {len(predicts)} x {number(cfg.PREDICT_POINTS)} | by hand "
                "(`PREDICT_POINTS`) |")
    rows.append(f"| `ex5_interpretation` | {number(cfg.EX5_INTERPRETATION_POINTS)} | by hand "
                "(`EX5_INTERPRETATION_POINTS`) |")
    auto = sum(sum(checks.values()) for checks in cfg.CHECK_POINTS.values())
    rows.append(f"| **total** | **{number(auto + len(predicts) * cfg.PREDICT_POINTS + cfg.EX5_INTERPRETATION_POINTS)}** | "
                f"{number(auto)} autograded |")
    return "\n".join(rows)


def tolerances() -> str:
    latent, image = cfg.LATENT_TOLERANCE, cfg.IMAGE_TOLERANCE
    return (f"Tolerances in force (`course_config.py`): latents `LATENT_TOLERANCE` = {number(latent['atol'])} + "
            f"{number(latent['rtol'])} x \\|ref\\|, pixels `IMAGE_TOLERANCE` = {number(image['atol'])}"
            + (f" + {number(image['rtol'])} x \\|ref\\|" if image["rtol"] else "") + ".")


def megabytes(mb) -> str:
    return f"{mb / 1024:g} GB" if mb >= 1024 else f"{mb:g} MB"


def caps() -> str:
    from autograder import answers, contract

    limits = cfg.SANDBOX_LIMITS
    rows = ["| Cap | Default | How |", "|---|---|---|",
            f"| memory per process | {megabytes(limits['memory_mb'])} of heap (the kernel uses ~0.9 GB after its "
            "imports) | `RLIMIT_DATA`; as root, also a memory cgroup (v1, 2x) where one is writable |",
            f"| processes and threads | {limits['processes']} | `RLIMIT_NPROC`, counted inside the box's user "
            "namespace; as root (exempt from it) a pids cgroup where one is writable |",
            f"| largest file | {megabytes(limits['file_mb'])} | `RLIMIT_FSIZE` |",
            f"| work folder, `/tmp`, `/dev/shm` | {limits['work_mb']:g} / {limits['tmp_mb']:g} / {limits['tmp_mb']:g} MB "
            "| tmpfs `--size` |",
            f"| time | {number(cfg.CELL_TIMEOUT_SECONDS)} s per cell (`CELL_TIMEOUT_SECONDS`), "
            f"{number(cfg.SUBMISSION_TIMEOUT_SECONDS)} s per notebook (`SUBMISSION_TIMEOUT_SECONDS`); a cell past it "
            "ends the run (a loop that ignores SIGINT cannot hang later cells) | the executor |",
            f"| output kept | {cfg.OUTPUT_LIMIT_BYTES / 1e6:g} MB per notebook (`OUTPUT_LIMIT_BYTES`), then a note | "
            "the executor |",
            f"| what the grader reads back | {answers.MAX_EXPORT_BYTES // 2**20} MB per answers file, "
            f"{answers.MAX_ARRAYS:,} arrays, {contract.MAX_DEPTH} levels of nesting, checked before anything is "
            f"parsed; at most {cfg.EX5_MAX_CODES} Ex5 codes judged (`EX5_MAX_CODES`) | `autograder/answers.py` |"]
    return "\n".join(rows)


BLOCKS = {"points": points, "tolerances": tolerances, "caps": caps}
BLOCK = re.compile(r"(<!-- generated: (\w+) .*?-->\n)(.*?)(<!-- end \2 -->)", re.S)


def with_blocks_filled(text: str) -> str:
    """text with each generated block it holds written afresh."""
    return BLOCK.sub(lambda m: f"{m.group(1)}{BLOCKS[m.group(2)]()}\n{m.group(4)}", text)


def blocks_in(text: str) -> set:
    return {m.group(2) for m in BLOCK.finditer(text)}


def main() -> int:
    found = set()
    for path in DOCS:
        text = path.read_text()
        found |= blocks_in(text)
        if with_blocks_filled(text) != text:
            path.write_text(with_blocks_filled(text))
    if found != set(BLOCKS):
        raise SystemExit(f"no file of {[p.name for p in DOCS]} holds the generated block(s) {sorted(set(BLOCKS) - found)}")
    print(f"Rewrote the generated blocks ({', '.join(BLOCKS)}) of README.md and docs/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
