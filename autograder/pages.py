"""HTML the kit writes (a cell's feedback, the class report), from the Jinja2 templates in autograder/templates/.

Autoescape is on for every template: whatever a student's code or text put into a value (a check message quotes
it, a student id, a run's problem) is shown as text, never as markup. Restyle a page by editing its template.
"""
import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=False)
    env.filters["g"] = lambda x: f"{x:g}"  # points as the rest of the kit writes them: 1.5, 4, 0
    return env


def page(template: str, **values) -> str:
    return environment().get_template(template).render(**values)
