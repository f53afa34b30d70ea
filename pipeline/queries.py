"""The checks' canonical SQL (analytics/pipeline/*.sql, Trino dialect, bound :name parameters)."""

from functools import lru_cache

from django.conf import settings

from warehouse.lake import contract
from warehouse.sql_templates import render_template, template_body

SQL_DIR = settings.BASE_DIR / "analytics" / "pipeline"

# The timestamp that says how fresh a table is: when rows were processed where the table records
# it, otherwise the newest event time of the table.
FRESHNESS_COLUMNS = {
    "raw_events": "ingest_ts",
    "events": "silver_processed_ts",
    "fact_funnel_events": "gold_processed_ts",
    "dead_letter_events": "received_ts",
    "fact_experiment_result": "computed_at",
}


@lru_cache(maxsize=32)
def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


# The lag of each stage (lag.sql.tmpl): its table, the hour its rows are counted in, and the
# times rows left the stage before and arrived in this one. Silver lag is counted per ingest
# hour; gold per event hour, since gold is partitioned by event time.
LAG_STAGES = {
    "silver": {
        "table": "events",
        "hour_of": "ingest_ts",
        "left": "ingest_ts",
        "arrived": "silver_processed_ts",
    },
    "gold": {
        "table": "fact_funnel_events",
        "hour_of": "event_ts",
        "left": "silver_processed_ts",
        "arrived": "gold_processed_ts",
    },
}


@lru_cache(maxsize=8)
def template(name: str) -> str:
    """A .sql.tmpl file without its opening comments: canonical SQL once its {identifiers} are
    filled from the contract."""
    return template_body((SQL_DIR / f"{name}.sql.tmpl").read_text())[0]


def lag_sql(stage: str) -> str:
    # Identifiers come from LAG_STAGES, never from input.
    return render_template(template("lag"), LAG_STAGES[stage])


def freshness_column(table: contract.Table) -> str | None:
    """The column whose newest value dates the table; None if it has no timestamp at all."""
    if table.name in FRESHNESS_COLUMNS:
        return FRESHNESS_COLUMNS[table.name]
    return next((c.name for c in table.columns if c.type == "timestamp"), None)


def freshness_sql(tables: list[contract.Table]) -> str:
    """One query for the freshness of ``tables``: the template of each, joined by UNION ALL."""
    parts = []
    for table in tables:
        body = template("freshness" if table.partition_column else "freshness_unpartitioned")
        newest = freshness_column(table) or "CAST(NULL AS timestamp)"
        # Identifiers come from the contract, which names every table and column; never input.
        parts.append(render_template(body, {"table": table.name, "newest": newest}))
    return "\nUNION ALL\n".join(parts)
