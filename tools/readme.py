"""The README's statements of settings, written from course_config.py (`make release` runs this).

    python -m tools.readme          # rewrite the generated blocks of README.md

Each block sits between `<!-- generated: NAME ... -->` and `<!-- end NAME -->`; it is generated, don't edit it.
A test fails when README.md differs from what this writes, so the README never states a stale point or tolerance.
"""
import re
import sys

import course_config as cfg

README = cfg.COURSE_ROOT / "README.md"


def number(x) -> str:
    return f"{x:g}"


def points() -> str:
    rows = ["| Graded cell | Points | Split over the checks (`CHECK_POINTS`) or graded by hand |", "|---|---|---|"]
    for cell_id, checks in cfg.CHECK_POINTS.items():
        split = ", ".join(f"{name} {number(p)}" for name, p in checks.items())
        rows.append(f"| `{cell_id}_tests` | {number(sum(checks.values()))} | autograded: {split} |")
    rows.append(f"| `ex1_predict` ... `ex5_predict` | 5 x {number(cfg.PREDICT_POINTS)} | by hand (`PREDICT_POINTS`) |")
    rows.append(f"| `ex5_interpretation` | {number(cfg.EX5_INTERPRETATION_POINTS)} | by hand "
                "(`EX5_INTERPRETATION_POINTS`) |")
    auto = sum(sum(checks.values()) for checks in cfg.CHECK_POINTS.values())
    rows.append(f"| **total** | **{number(auto + 5 * cfg.PREDICT_POINTS + cfg.EX5_INTERPRETATION_POINTS)}** | "
                f"{number(auto)} autograded |")
    return "\n".join(rows)


def tolerances() -> str:
    latent, image = cfg.LATENT_TOLERANCE, cfg.IMAGE_TOLERANCE
    return (f"Tolerances in force (`course_config.py`): latents `LATENT_TOLERANCE` = {number(latent['atol'])} + "
            f"{number(latent['rtol'])} x \\|ref\\|, pixels `IMAGE_TOLERANCE` = {number(image['atol'])}"
            + (f" + {number(image['rtol'])} x \\|ref\\|" if image["rtol"] else "") + ".")


BLOCKS = {"points": points, "tolerances": tolerances}
BLOCK = re.compile(r"(<!-- generated: (\w+) .*?-->\n)(.*?)(<!-- end \2 -->)", re.S)


def render(text: str) -> str:
    found = set()

    def fill(match):
        found.add(match.group(2))
        return f"{match.group(1)}{BLOCKS[match.group(2)]()}\n{match.group(4)}"

    text = BLOCK.sub(fill, text)
    if found != set(BLOCKS):
        raise SystemExit(f"README.md lacks the generated block(s) {sorted(set(BLOCKS) - found)}")
    return text


def main() -> int:
    README.write_text(render(README.read_text()))
    print(f"Rewrote the generated blocks of {README.name}: {', '.join(BLOCKS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
