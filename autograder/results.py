"""What grading produces, as plain data: a check's result and a graded cell. Kept free of torch, matplotlib and
pytest so the process that collects results from workers (and writes the gradebook) never imports them."""
from dataclasses import dataclass


@dataclass
class CheckResult:
    cell_id: str
    name: str
    points: float
    max_points: float
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.points == self.max_points


@dataclass
class CellGrade:
    cell_id: str
    results: list      # [CheckResult, ...] in the order the checks are defined
    html: str          # the feedback nbgrader shows in the test cell
    text: str          # the same, as plain text (the CLI's report, results.json)
    notes: tuple = ()  # what the checks left out of judging
    pictures: tuple = ()  # (caption, base64 PNG) pairs shown in the feedback

    @property
    def score(self) -> float:
        return score(self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_points for r in self.results)


def score(results) -> float:
    return round(sum(r.points for r in results), 4)
