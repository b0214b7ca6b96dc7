"""`make release`: the source notebook from the lesson's text, the README's generated tables, then nbgrader's release.

    python -m tools.release

Run after editing lesson/latent_space.md, course_config.py or an exercise (autograder/exercises/). The kit is
never a course: nbgrader gets a scratch gradebook, removed afterwards.
"""
import sys
import tempfile

import course_config as cfg
from lesson import build
from tools import course, readme


def main() -> int:
    status = build.main()
    if status:
        return status
    readme.main()
    with tempfile.TemporaryDirectory() as scratch:
        done = course.nbgrader(cfg.COURSE_ROOT, "generate_assignment", cfg.ASSIGNMENT_ID, "--force",
                               "--db", f"sqlite:///{scratch}/gradebook.db", check=False)
    print(done.stderr[-3000:] if done.returncode else f"Released {cfg.ASSIGNMENT_ID} into release/", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
