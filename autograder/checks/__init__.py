"""The checks, as pytest tests: one module per graded cell (CELL), one test per named check (test_<check>).

They run in the grader's own process over two fixtures: `student` (the cell's exported answers) and
`reference` (autograder.reference_answers.Reference). A check passes, or raises CheckFailed with the message
the student sees. Points per check are in course_config.CHECK_POINTS.
"""
