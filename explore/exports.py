"""The explore view's table as a file: CSV, or XLSX for spreadsheet users (openpyxl)."""

import csv
import io

import pandas as pd
from django.http import HttpResponse
from openpyxl import Workbook

from explore.selectors import Explored

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def download(view: Explored, fmt: str) -> HttpResponse:
    state = view.state
    name = f"{state.metric.slug}_{state.start}_{state.end}_{state.grain}.{fmt}"
    body = _xlsx(view) if fmt == "xlsx" else _csv(view.table)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Data-As-Of"] = view.results[0].data_as_of or ""
    response["X-Query-Run"] = ",".join(str(r.run_id) for r in view.results)
    return response


def _csv(table: pd.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows(_cells(table))
    return out.getvalue()


def _xlsx(view: Explored) -> bytes:
    """Two sheets: the table (dates as dates, numbers as numbers) and what it shows."""
    book = Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append(list(view.table.columns))
    for row in _cells(view.table):
        sheet.append(row)
    about = book.create_sheet("view")
    for key, value in view.state.query().items():
        about.append([key, value])
    about.append(["data_as_of", view.results[0].data_as_of or ""])
    about.append(["query_runs", ", ".join(str(r.run_id) for r in view.results)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cells(table: pd.DataFrame) -> list[list]:
    # NaN is no number: an empty cell, not "nan".
    return [
        [None if isinstance(v, float) and v != v else v for v in row]
        for row in table.itertuples(index=False)
    ]
