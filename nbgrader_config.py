"""nbgrader reads only this file name (from the current folder and the course root; it ignores --config).

It holds no values of its own: every setting comes from course_config.py, the one file instructors edit.
"""
import os
import sys

c = get_config()  # noqa: F821  (nbgrader provides get_config when it loads this file)


def refuse_to_grade(reason: Exception) -> None:
    """nbgrader logs an error in this file and runs on with its own defaults: student code unsandboxed, without
    the kit's checks. So a command-line nbgrader stops here; formgrader's server, which must stay up, is given
    an autograde that refuses every submission with the reason (nothing graded, nothing overwritten). Never raise
    after it: nbgrader would drop everything this file set, the refusal included."""
    message = f"Latent Lab cannot grade: {reason}"
    if "nbgrader" in os.path.basename(sys.argv[0]) or sys.argv[0].endswith(os.path.join("nbgrader", "__main__.py")):
        sys.exit(f"error: {message}")
    from nbconvert.preprocessors import Preprocessor

    class Refuse(Preprocessor):
        def preprocess(self, nb, resources):
            raise RuntimeError(message)
    c.Autograde.sanitize_preprocessors = c.Autograde.autograde_preprocessors = [Refuse]
    print(f"[nbgrader_config.py] {message}", file=sys.stderr)


def configure() -> None:
    """The course, and the grading flow as one list per step (see autograder/pipeline.py)."""
    c.CourseDirectory.root = str(cfg.COURSE_ROOT)
    c.CourseDirectory.course_id = cfg.COURSE_ID
    configure_logging()  # the kit's warnings under nbgrader: one line each, student text escaped
    nbgrader_steps.quiet_formgrader_dialogs()  # formgrader's dialogs: nbgrader's INFO lines, not its DEBUG dump

    c.Autograde.exporter_class = pipeline.READER
    c.Autograde.sanitize_preprocessors = pipeline.SANITIZE
    c.Autograde.autograde_preprocessors = pipeline.AUTOGRADE
    c.GenerateFeedback.preprocessors = pipeline.FEEDBACK
    c.merge(pipeline.SETTINGS)  # how nbgrader's own steps are set for this kit (the CLI uses the same)
    # read by `nbgrader validate` only (the students' Validate button): grading's limits are the executor's, from
    # the same course_config values
    c.Execute.timeout = cfg.CELL_TIMEOUT_SECONDS
    # collect takes each student's own files as data at the time it saw them, never a link or another's
    # submission; feedback release hands out the feedback page only (autograder/exchange.py)
    c.ExchangeFactory.collect = "autograder.exchange.CheckedCollect"
    c.ExchangeFactory.release_feedback = "autograder.exchange.CheckedReleaseFeedback"
    # what only the kit or nbgrader writes (the kept answers, collect's notes, feedback pages: a student's own
    # latent_space.html would sit read-only where generate_feedback writes the page) is never copied from a
    # student; nor are dotfiles
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "*.html",
                                kept.FOLDER, exchange.NOTES_FILE]


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import course_config as cfg
    from autograder import exchange, kept, nbgrader_steps, pipeline, settings
    from autograder.printable import configure_logging
    settings.require()  # a mistyped course_config.py stops here, before anyone is graded
except Exception as err:  # noqa: BLE001  whatever stops the kit from loading must stop grading, not unsandbox it
    refuse_to_grade(err)
else:
    configure()
