"""The kit's own faults, kept apart from a student's: each stops the batch with its reason and zeroes nobody.

The lowest layer: every other module may import it, it imports nothing of the kit.
"""


class MachineProblem(RuntimeError):
    """Grading cannot run on this machine: stop the batch with the reason, never blame a student for it."""


class SettingsWrong(MachineProblem):
    """course_config.py has a setting the kit cannot use (autograder/settings.py names each one)."""
