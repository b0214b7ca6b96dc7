"""nbgrader reads only this file name (from the current folder and the course root; it ignores --config).

It holds no values of its own: every setting comes from course_config.py, the one file instructors edit.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import course_config as cfg  # noqa: E402

c = get_config()  # noqa: F821  (nbgrader provides get_config when it loads this file)
c.CourseDirectory.root = str(cfg.COURSE_ROOT)
c.CourseDirectory.course_id = cfg.COURSE_ID

from autograder import exchange, kept, nbgrader_steps, pipeline  # noqa: E402
from autograder.printable import configure_logging  # noqa: E402

configure_logging()  # the kit's warnings under nbgrader: one line each, student text escaped
nbgrader_steps.quiet_formgrader_dialogs()  # formgrader's dialogs: nbgrader's INFO lines, not its DEBUG dump

# The grading flow, one list each (see autograder/pipeline.py).
c.Autograde.exporter_class = pipeline.READER
c.Autograde.sanitize_preprocessors = pipeline.SANITIZE
c.Autograde.autograde_preprocessors = pipeline.AUTOGRADE
c.Execute.timeout = cfg.CELL_TIMEOUT_SECONDS
c.GenerateFeedback.preprocessors = pipeline.FEEDBACK
c.merge(pipeline.SETTINGS)  # how nbgrader's own steps are set for this kit (the CLI uses the same)
# collect takes each student's own files as data at the time it saw them, never a link or another's submission;
# feedback release hands out the feedback page only (autograder/exchange.py)
c.ExchangeFactory.collect = "autograder.exchange.CheckedCollect"
c.ExchangeFactory.release_feedback = "autograder.exchange.CheckedReleaseFeedback"
# what only the kit or nbgrader writes (the kept answers, collect's notes, feedback pages: a student's own
# latent_space.html would sit read-only where generate_feedback writes the page) is never copied from a student;
# nor are dotfiles
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "*.html", kept.FOLDER,
                            exchange.NOTES_FILE]
