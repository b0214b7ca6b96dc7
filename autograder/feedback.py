"""Feedback a student reads: a table of checks per graded cell, and pictures of their answer beside the reference.

Shared by nbgrader (the outputs of each test cell, shown by formgrader and generate_feedback) and the CLI. What is
drawn and said for a cell is its exercise's (autograder/exercises/); the table's HTML is a template.
"""
from autograder import exercises
from autograder.pages import page
from autograder.printable import printable
from autograder.results import score


def text_report(cell_id, results, notes=()) -> str:
    lines = [f"{exercises.get(cell_id).TITLE}: {score(results):g} / {sum(r.max_points for r in results):g}"]
    for r in results:  # a message quotes what the student's code said: one line each, control characters escaped
        lines.append(f"  [{'PASS' if r.passed else 'FAIL'}] {r.name} ({r.points:g}/{r.max_points:g})"
                     + (f": {printable(r.message)}" if r.message else ""))
    lines += [f"  Note: {printable(note)}" for note in notes]
    return "\n".join(lines)


def html_report(cell_id, results, pictures=(), notes=()) -> str:
    return page("feedback_cell.html.j2", title=exercises.get(cell_id).TITLE, score=score(results),
                total=sum(r.max_points for r in results), results=results, notes=notes, pictures=pictures)


def notes_for(cell_id, answers) -> list:
    """What the checks left out of judging, said once per cell even when every check passed."""
    return exercises.notes(exercises.get(cell_id), answers)


def pictures_for(cell_id, answers, reference) -> list:
    """(caption, base64 PNG) pairs for a cell; none when the answer is too broken to draw."""
    try:
        return exercises.get(cell_id).pictures(answers, reference)
    except Exception:  # noqa: BLE001  a picture is a courtesy; a broken answer already has its messages
        return []
