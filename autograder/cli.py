"""Latent Lab: grade the "Exploring Latent Spaces" assignment, with nbgrader or without it.

`latent-lab SUBCOMMAND --help` says what each does. Run autograde, regrade and report from the course root.
"""
# Each subcommand is a module of its own with add_arguments(parser), run(args) and a docstring (its --help): grade
# (grade_files.py), autograde, regrade, report, serve, init-course (course_folder.py), dask-certs (cluster.py).
import argparse
import logging
import os
import sys
from pathlib import Path

from autograder import cluster, settings
from autograder.printable import configure_logging
from autograder.sandbox import exit_on_sigterm


def main(argv=None) -> int:
    installed = Path(sys.argv[0]).name == "latent-lab"  # the console script, or python -m autograder
    parser = argparse.ArgumentParser(prog="latent-lab" if installed else "python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    from autograder import autograde, course_folder, grade_files, regrade, report, serve

    subcommands = {  # name: (module with add_arguments, run and a docstring; one-line help)
        "grade": (grade_files, "grade a notebook or a folder of notebooks"),
        "dask-certs": (cluster, "make the certificates a Dask cluster needs (only the instructor can then use it)"),
        "autograde": (autograde, "nbgrader autograde on workers, resumable (run from the course root)"),
        "init-course": (course_folder, "make a course folder of its own for nbgrader (outside the kit, mode 0700)"),
        "regrade": (regrade, "grade again from the kept answers (no kernel): a course's assignment or a --out folder"),
        "report": (report, "a class report (HTML) from the kept answers: a course's assignment or a --out folder"),
        "serve": (serve, "grade each submission as it arrives and release its feedback (run from the course root)"),
    }
    for name, (module, help_line) in subcommands.items():
        module.add_arguments(commands.add_parser(name, help=help_line, description=module.__doc__,
                                                 formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    try:
        settings.require()  # before anything is read, graded or written
    except settings.SettingsWrong as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.verbose = getattr(args, "verbose", False)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)  # student text in a line: escaped
    exit_on_sigterm()  # a stopped batch removes its scratch gradebooks and boxes, as after Ctrl-C
    if not args.verbose:  # nbgrader reports restoring each hidden-test cell (every submission): only with -v
        logging.getLogger("traitlets").setLevel(logging.ERROR)
        # Dask says each worker start and stop; it sets its loggers' levels from its config when first imported
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    return subcommands[args.command][0].run(args)
