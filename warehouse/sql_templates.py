"""SQL templates (``*.sql.tmpl``): canonical SQL with ``{name}`` holes, filled in by code
(pipeline checks: identifiers from the lake contract) or by a metric file's ``template_params``.

A template opens with comment lines saying what its holes are. They are dropped before the holes
are filled, so they may name the holes; comments further down (indented) stay with the SQL.
"""

from collections.abc import Mapping
from string import Formatter


def template_body(text: str) -> tuple[str, int]:
    """The SQL of a template without its opening comment lines, and how many lines those were
    (line n of the body is line n + that count of the file)."""
    lines = text.splitlines()
    opening = next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    return "\n".join(lines[opening:]), opening


def template_holes(body: str) -> frozenset[str]:
    """The names of the ``{name}`` holes of a template body."""
    return frozenset(name for _, name, _, _ in Formatter().parse(body) if name)


def render_template(body: str, values: Mapping[str, object]) -> str:
    """The body with every hole filled (KeyError names a hole without a value)."""
    return body.format_map(values)
