"""Personal data in query results, masked before a result is cached.

Payloads are free text that may hold e-mail addresses, phone numbers, IP addresses and values
of personal keys (core.masking). A run that reads such a column masks every text value of
its result with core.masking's reading form before it is cached, so that no reader of the
run (the page it serves, ``/api/runs/<id>``, the cache itself) sees more than that form.

Fail closed: any reference to a free-text column, or a ``*`` over a table that has one, masks
every text column of the result (an alias or an expression over a payload is still a payload).
"""

import pandas as pd
from sqlglot import exp

from core.masking import mask_payload
from warehouse.sql import CanonicalSql

# Table -> its columns of free text that may hold personal data.
FREE_TEXT_COLUMNS: dict[str, frozenset[str]] = {
    "raw_events": frozenset({"payload"}),
    "dead_letter_events": frozenset({"payload"}),
}


def reads_free_text(canonical: CanonicalSql) -> bool:
    """Whether the query reads a free-text column of a table it reads (or all its columns)."""
    columns: set[str] = set()
    for name in canonical.tables:  # lower-cased names
        columns |= FREE_TEXT_COLUMNS.get(name, frozenset())
    if not columns:
        return False
    tree = canonical.tree
    # count(*) reads no column; a projected * (or t.*) reads them all.
    if any(star.find_ancestor(exp.AggFunc) is None for star in tree.find_all(exp.Star)):
        return True
    return any(c.name.lower() in columns for c in tree.find_all(exp.Column))


def result_masked(canonical: CanonicalSql, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text value masked if the query reads free text; else as it is."""
    if not reads_free_text(canonical):
        return frame
    masked = frame.copy()
    for column in masked.columns:
        values = masked[column]
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            masked[column] = values.map(lambda v: mask_payload(v) if isinstance(v, str) else v)
    return masked
