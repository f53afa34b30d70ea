"""Print the lake table contract as Markdown, or write it to docs/lake_contract.md (--write)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from warehouse.lake import layout
from warehouse.lake.contract import ID_FORMAT_HELP, ID_FORMATS, TABLES, VIEWS, Layer, Table
from warehouse.lake.storage import atomic_path

DOC_PATH = Path("docs") / "lake_contract.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _codes(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def _table_section(t: Table) -> list[str]:
    partition = f"`{t.partition_column}`" if t.partition_column else "unpartitioned"
    lines = [
        f"### `{t.name}`",
        "",
        t.description,
        "",
        f"- Layer: {t.layer.value} · Access: **{t.access.value}** · Partitioned by: {partition}"
        f" · Written by: {t.writer}",
        f"- Identity columns (DSAR erasure scans these): {_codes(t.identity_columns)}",
        *(
            [f"- Big partitions split into bucket files by: `{t.bucket_column}`"]
            if t.bucket_column and t.writer == "pipeline"
            else []
        ),
        "",
        "| column | type | description |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{c.name}` | {c.type} | {_cell(c.description)} |" for c in t.columns]
    return [*lines, ""]


def render_contract() -> str:
    """The contract document, generated from ``TABLES`` and ``VIEWS`` (a test keeps the file
    in step)."""
    lines = [
        "# Lake table contract",
        "",
        "Generated from `warehouse/lake/contract.py` by `manage.py lake_contract --write`; "
        "do not edit by hand.",
        "",
        "Files: `<root>/<layer>/<table>/event_dt=YYYY-MM-DD/*.parquet` (Hive partitioning) or "
        "`<root>/<layer>/<table>/*.parquet` for unpartitioned tables. A partition of more than "
        f"{layout.ROWS_PER_FILE:,} rows is split into a power of two of files, "
        "`part-00000.parquet` and on, by the FNV-1a hash of the table's first identity column, "
        "so that one identity's rows of a day sit in one file (what a DSAR erasure rewrites). "
        "Types are Athena (Trino) "
        "names; timestamps are UTC without time zone. Queries on partitioned tables must filter "
        "on the partition column. Restricted tables (support, finance, privacy) are readable by "
        "admins only; their roles read them through the views listed at the end, each with its "
        "own access class.",
        "",
        "Ids: identity columns (listed per table) hold identity ids or user ids, by their name "
        "(`*identity_id`, `*user_id`), in these formats; a DSAR subject must match one:",
        "",
        *(
            f"- `{kind}`: `{pattern}` ({ID_FORMAT_HELP[kind]})"
            for kind, pattern in ID_FORMATS.items()
        ),
        "",
        "| table | layer | access | partitioned by | written by |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| [`{t.name}`](#{t.name}) | {t.layer.value} | {t.access.value} | "
        f"{t.partition_column or '-'} | {t.writer} |"
        for t in TABLES.values()
    ]
    lines.append("")
    for layer in Layer:
        lines += [f"## {layer.value.capitalize()}", ""]
        for t in TABLES.values():
            if t.layer == layer:
                lines += _table_section(t)
    lines += ["## Views of restricted tables", ""]
    for view in VIEWS.values():
        lines += _table_section(view)
    return "\n".join(lines).rstrip("\n") + "\n"


class Command(BaseCommand):
    help = "Print the lake table contract as Markdown, or write docs/lake_contract.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help=f"write {DOC_PATH} atomically")

    def handle(self, *args: Any, write: bool, **options: Any) -> None:
        text = render_contract()
        if not write:
            self.stdout.write(text, ending="")
            return
        path = Path(settings.BASE_DIR) / DOC_PATH
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        self.stdout.write(f"Wrote {path}.")
