"""The checks, as pytest tests: test_<cell>.py per graded cell, one test per named check (test_<check>); what
they share with the feedback (reading the answer) is the exercise's module, autograder/exercises/<cell>.py.

They run in the grader's own process over two fixtures: `student` (the cell's exported answers) and
`reference` (autograder.reference_answers.Reference). A check passes, or raises CheckFailed with the message
the student sees. Points per check are in course_config.CHECK_POINTS.
"""
