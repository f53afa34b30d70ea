"""AthenaEngine against moto's in-process Athena.

moto accepts any SQL and answers with queued canned results, so these tests cover the client
plumbing (polling, parameters, types, statistics, errors); the SQL itself is checked by
re-parsing the translated text with sqlglot at the end of this file.
"""

import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import boto3
import pandas as pd
import pytest
import requests
import sqlglot
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws
from moto.athena.models import AthenaBackend, athena_backends
from moto.athena.responses import AthenaResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager
from pyathena.formatter import DefaultParameterFormatter
from pyathena.util import RetryConfig
from sqlglot import exp

from warehouse.engines.athena import AthenaEngine
from warehouse.engines.base import ScanTooLarge, TransientWarehouseError, WarehouseError
from warehouse.lake import contract
from warehouse.sql import parse, render, translate

REGION = "eu-west-1"
WORKGROUP = "portal"
BUCKET = "portal-athena-results"
OUTPUT = f"s3://{BUCKET}/results/"
MOTO_RESULTS_API = "http://motoapi.amazonaws.com/moto-api/static/athena/query-results"
EXECUTION_MODEL = "athena::execution"
MB = 2**20
# What real Athena reports as ColumnInfo.Precision (pyathena reads it into cursor.description).
PRECISION = {"integer": 10, "bigint": 19, "double": 17, "varchar": 2147483647, "date": 0}

PROBE_SQL = """
SELECT n, total, x, s, d
FROM probe_events
WHERE event_dt BETWEEN :start AND :end AND s = :name
"""
PROBE_PARAMS = {"start": date(2024, 1, 1), "end": date(2024, 1, 31), "name": "it's"}
PROBE_COLUMNS = [
    ("n", "integer"),
    ("total", "bigint"),
    ("x", "double"),
    ("s", "varchar"),
    ("d", "date"),
]


@dataclass
class FakeStatus:
    """What the fake Athena reports beyond moto's constants (moto always says 0 bytes)."""

    bytes_scanned: int = 0
    reused: bool = False
    failure: str | None = None
    retryable: bool = False
    states: list[str] = field(default_factory=list)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        boto3.client("athena", region_name=REGION).create_work_group(
            Name=WORKGROUP,
            Configuration={"ResultConfiguration": {"OutputLocation": OUTPUT}},
        )
        yield athena_backends[DEFAULT_ACCOUNT_ID][REGION]


@pytest.fixture
def status(backend: AthenaBackend, monkeypatch: pytest.MonkeyPatch) -> FakeStatus:
    fake = FakeStatus()
    original = AthenaResponse.get_query_execution

    def get_query_execution(self: AthenaResponse) -> str:
        body = json.loads(original(self))
        execution = body["QueryExecution"]
        fake.states.append(execution["Status"]["State"])
        execution["Statistics"]["DataScannedInBytes"] = fake.bytes_scanned
        execution["Statistics"]["ResultReuseInformation"]["ReusedPreviousResult"] = fake.reused
        if fake.failure and execution["Status"]["State"] == "SUCCEEDED":
            execution["Status"]["State"] = "FAILED"
            execution["Status"]["StateChangeReason"] = fake.failure
            execution["Status"]["AthenaError"] = {
                "ErrorCategory": 2,
                "ErrorType": 1006,
                "Retryable": fake.retryable,
                "ErrorMessage": fake.failure,
            }
        return json.dumps(body)

    monkeypatch.setattr(AthenaResponse, "get_query_execution", get_query_execution)
    return fake


@pytest.fixture
def slow_queries():
    """Make each moto query state last ``polls`` polls instead of finishing at once."""

    def configure(polls: int) -> None:
        state_manager.set_transition(EXECUTION_MODEL, {"progression": "manual", "times": polls})

    yield configure
    state_manager.unset_transition(EXECUTION_MODEL)


def make_engine(**overrides) -> AthenaEngine:
    options = {
        "region": REGION,
        "workgroup": WORKGROUP,
        "s3_output": OUTPUT,
        "database": "analytics",
        "catalog": "AwsDataCatalog",
        "usd_per_tb": 5.0,
        "result_reuse_minutes": 60,
        "timeout_s": 10,
        "poll_interval_s": 0.01,
        "retry_config": RetryConfig(attempt=1),
    }
    return AthenaEngine(**(options | overrides))


def queue_result(columns: list[tuple[str, str]], rows: list[tuple[str | None, ...]]) -> None:
    """Queue one canned result through moto's documented results API; Athena's CSV and
    GetQueryResults both start with a header row."""

    def row(values) -> dict:
        return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}

    column_info = [
        {
            "Name": name,
            "Label": name,
            "Type": type_,
            "Precision": PRECISION[type_],
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": type_ == "varchar",
        }
        for name, type_ in columns
    ]
    result = {"rows": [row([name for name, _ in columns]), *map(row, rows)]}
    body = {"region": REGION, "results": [result | {"column_info": column_info}]}
    assert requests.post(MOTO_RESULTS_API, json=body, timeout=5).status_code == 201


def queue_probe_result() -> None:
    queue_result(
        PROBE_COLUMNS,
        [("1", "9000000000", "2.5", "it's", "2024-01-02"), (None, None, None, None, None)],
    )


def test_run_polls_until_done_and_converts_types(backend, status, slow_queries) -> None:
    slow_queries(2)
    queue_probe_result()

    result = make_engine().run(PROBE_SQL, PROBE_PARAMS)

    assert status.states[0] == "QUEUED"
    assert "RUNNING" in status.states
    assert status.states[-1] == "SUCCEEDED"
    assert len(status.states) >= 3
    frame = result.frame
    assert list(frame.columns) == ["n", "total", "x", "s", "d"]
    assert frame.dtypes.astype(str).tolist() == [
        "Int64",
        "Int64",
        "float64",
        "object",
        "datetime64[ns]",
    ]
    assert frame.iloc[0].tolist() == [1, 9_000_000_000, 2.5, "it's", pd.Timestamp("2024-01-02")]
    assert frame.iloc[1].isna().all()
    assert result.stats.rows == 2
    assert result.stats.engine == "athena"
    (execution_id,) = backend.executions
    assert result.stats.engine_query_id == execution_id


def test_request_carries_workgroup_context_and_result_reuse(backend, status) -> None:
    engine = make_engine(result_reuse_minutes=45)
    sent: list[dict] = []
    engine.connection().client.meta.events.register(
        "provide-client-params.athena.StartQueryExecution",
        lambda params, **_: sent.append(dict(params)),
    )
    queue_probe_result()

    engine.run(PROBE_SQL, PROBE_PARAMS)

    (request,) = sent
    assert request["WorkGroup"] == WORKGROUP
    assert request["QueryExecutionContext"] == {
        "Database": "analytics",
        "Catalog": "AwsDataCatalog",
    }
    assert request["ResultConfiguration"] == {"OutputLocation": OUTPUT}
    assert request["ResultReuseConfiguration"] == {
        "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 45}
    }


def test_params_are_bound_by_pyathena_and_quotes_escaped(backend, status) -> None:
    hostile = "O'Brien' OR '1'='1"
    queue_probe_result()

    result = make_engine().run(PROBE_SQL, PROBE_PARAMS | {"name": hostile})

    (execution,) = backend.executions.values()
    assert execution.query == result.stats.translated_sql % {
        "start": "DATE '2024-01-01'",
        "end": "DATE '2024-01-31'",
        "name": "'O''Brien'' OR ''1''=''1'",
    }
    # The value reached Athena as one string literal, not as SQL.
    sent = sqlglot.parse_one(execution.query, read="athena")
    comparison = next(e for e in sent.find_all(exp.EQ) if e.this.name == "s")
    assert comparison.expression.is_string
    assert comparison.expression.this == hostile
    assert not list(sent.find_all(exp.Or))


@pytest.mark.parametrize(
    ("bytes_scanned", "expected_usd"),
    [
        (1_000, 10 * MB / 2**40 * 5.0),  # billed at the 10 MB minimum
        (3 * 1024 * MB, 3 * 1024 * MB / 2**40 * 5.0),
    ],
)
def test_bytes_scanned_become_cost(backend, status, bytes_scanned, expected_usd) -> None:
    status.bytes_scanned = bytes_scanned
    queue_probe_result()

    stats = make_engine().run(PROBE_SQL, PROBE_PARAMS).stats

    assert stats.bytes_scanned == bytes_scanned
    assert stats.cost_usd == pytest.approx(expected_usd)


def test_reused_result_is_not_billed(backend, status) -> None:
    status.reused = True
    queue_probe_result()

    stats = make_engine().run(PROBE_SQL, PROBE_PARAMS).stats

    assert stats.cost_usd == 0.0


def test_failed_query_raises_athena_reason(backend, status) -> None:
    status.failure = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"
    queue_probe_result()

    with pytest.raises(WarehouseError, match="FAILED: COLUMN_NOT_FOUND") as caught:
        make_engine().run(PROBE_SQL, PROBE_PARAMS)

    assert not isinstance(caught.value, TransientWarehouseError)
    (execution_id,) = backend.executions
    assert execution_id in str(caught.value)


def test_failure_athena_marks_retryable_is_transient(backend, status) -> None:
    status.failure = "GENERIC_INTERNAL_ERROR: try again"
    status.retryable = True
    queue_probe_result()

    with pytest.raises(TransientWarehouseError, match="GENERIC_INTERNAL_ERROR"):
        make_engine().run(PROBE_SQL, PROBE_PARAMS)


def test_query_past_the_time_limit_is_cancelled(backend, status, slow_queries) -> None:
    slow_queries(1_000_000)
    queue_probe_result()
    started = time.monotonic()

    with pytest.raises(WarehouseError, match=r"0\.2 s limit"):
        make_engine(timeout_s=0.2).run(PROBE_SQL, PROBE_PARAMS)

    # Waiting for the query would take its 1,000,000 polls (hours); a cancel at the limit takes
    # well under a second, so 30 s holds on a busy machine and still tells the two apart.
    assert time.monotonic() - started < 30
    (execution,) = backend.executions.values()
    assert execution.status == "CANCELLED"


def test_throttling_is_transient(backend, status, monkeypatch) -> None:
    engine = make_engine()
    error = {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}

    def throttled(**_):
        raise ClientError(error, "StartQueryExecution")

    monkeypatch.setattr(engine.connection().client, "start_query_execution", throttled)

    with pytest.raises(TransientWarehouseError, match="TooManyRequestsException"):
        engine.run(PROBE_SQL, PROBE_PARAMS)


def test_lost_connection_while_polling_is_transient(backend, status, monkeypatch) -> None:
    engine = make_engine()

    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url="https://athena.eu-west-1.amazonaws.com/")

    monkeypatch.setattr(engine.connection().client, "get_query_execution", unreachable)
    queue_probe_result()

    with pytest.raises(TransientWarehouseError, match="unreachable"):
        engine.run(PROBE_SQL, PROBE_PARAMS)


def test_invalid_request_is_not_transient(backend, status, monkeypatch) -> None:
    engine = make_engine()
    error = {"Error": {"Code": "InvalidRequestException", "Message": "Database does not exist"}}

    def invalid(**_):
        raise ClientError(error, "StartQueryExecution")

    monkeypatch.setattr(engine.connection().client, "start_query_execution", invalid)

    with pytest.raises(WarehouseError, match="Database does not exist") as caught:
        engine.run(PROBE_SQL, PROBE_PARAMS)
    assert not isinstance(caught.value, TransientWarehouseError)


def test_ping(backend, monkeypatch) -> None:
    make_engine().ping()

    with pytest.raises(WarehouseError, match="missing"):
        make_engine(workgroup="no-such-workgroup").ping()

    engine = make_engine()

    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url="https://athena.eu-west-1.amazonaws.com/")

    monkeypatch.setattr(engine.connection().client, "get_work_group", unreachable)
    with pytest.raises(TransientWarehouseError):
        engine.ping()

    def denied(**_):
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        raise ClientError(error, "GetWorkGroup")

    monkeypatch.setattr(engine.connection().client, "get_work_group", denied)
    with pytest.raises(WarehouseError, match="AccessDeniedException") as caught:
        engine.ping()
    assert not isinstance(caught.value, TransientWarehouseError)


def cutoff_workgroup(name: str, cutoff: int | None) -> None:
    configuration = {"ResultConfiguration": {"OutputLocation": OUTPUT}}
    if cutoff is not None:
        configuration["BytesScannedCutoffPerQuery"] = cutoff
    boto3.client("athena", region_name=REGION).create_work_group(
        Name=name, Configuration=configuration
    )


def test_no_query_runs_without_a_workgroup_scan_limit_within_the_cap(backend, status) -> None:
    cap = 10 * 2**30
    cutoff_workgroup("capped", cap // 2)
    cutoff_workgroup("too-loose", cap * 2)
    queue_probe_result()

    make_engine(workgroup="capped", max_bytes_scanned=cap).run(PROBE_SQL, PROBE_PARAMS)
    make_engine(workgroup="capped", max_bytes_scanned=cap).ping()
    executions = len(backend.executions)
    for workgroup, found in ((WORKGROUP, "it has none"), ("too-loose", "it has 20.0 GB")):
        engine = make_engine(workgroup=workgroup, max_bytes_scanned=cap)
        for call in (lambda e=engine: e.run(PROBE_SQL, PROBE_PARAMS), engine.ping):
            with pytest.raises(WarehouseError, match="BytesScannedCutoffPerQuery") as caught:
                call()
            assert f"at most 10.0 GB (QUERY_MAX_BYTES_SCANNED); {found}" in str(caught.value)
    assert len(backend.executions) == executions  # refused before anything was sent
    # With the cap off (0) the workgroup is not asked.
    queue_probe_result()
    make_engine(max_bytes_scanned=0).run(PROBE_SQL, PROBE_PARAMS)


def test_a_query_cancelled_at_the_workgroup_limit_says_so(backend, status) -> None:
    status.failure = "Query cancelled! : Bytes scanned limit was exceeded"
    queue_probe_result()

    with pytest.raises(
        ScanTooLarge, match=r"per-query limit \(BytesScannedCutoffPerQuery\)"
    ) as caught:
        make_engine().run(PROBE_SQL, PROBE_PARAMS)

    assert "Bytes scanned limit was exceeded" in str(caught.value)
    assert not isinstance(caught.value, TransientWarehouseError)


def test_from_settings(settings) -> None:
    settings.ATHENA = {
        "region": "us-east-2",
        "workgroup": "bi",
        "s3_output": "s3://bucket/out/",
        "database": "gold",
        "catalog": "AwsDataCatalog",
        "usd_per_tb": 6.0,
        "result_reuse_minutes": 30,
    }
    settings.QUERY_TIME_LIMIT_SECONDS = 120

    engine = AthenaEngine.from_settings()

    assert (engine.region, engine.workgroup, engine.s3_output) == (
        "us-east-2",
        "bi",
        "s3://bucket/out/",
    )
    assert (engine.database, engine.usd_per_tb, engine.result_reuse_minutes) == ("gold", 6.0, 30)
    assert engine.timeout_s == 120
    assert engine.max_bytes_scanned == settings.QUERY_MAX_BYTES_SCANNED == 10 * 2**30
    assert (engine.name, engine.dialect) == ("athena", "athena")


# --- The SQL side: moto runs nothing, so check that what pyathena sends is valid Trino SQL. ---

CANONICAL_QUERIES = [
    PROBE_SQL,
    """
    SELECT event_dt,
           count_if(event_name = 'purchase') AS purchases,
           approx_distinct(identity_id) AS buyers,
           sum(CAST(json_extract_scalar(properties, '$.amount') AS double)) AS revenue
    FROM events
    WHERE event_dt >= :start AND event_dt < date_add('day', 1, :end)
    GROUP BY event_dt
    """,
    """
    WITH daily AS (
        SELECT event_dt, identity_id, count(*) AS n
        FROM events
        WHERE event_dt BETWEEN :start AND :end AND country IN (:country, 'it''s')
        GROUP BY 1, 2
    )
    SELECT event_dt, n,
           row_number() OVER (PARTITION BY event_dt ORDER BY n DESC) AS rank,
           date_trunc('week', event_dt) AS week
    FROM daily
    """,
]
SQL_FILES = sorted(Path(__file__).resolve().parents[2].glob("analytics/**/*.sql"))


def _sample_params(names: frozenset[str]) -> dict[str, object]:
    return {
        name: "it's" if "country" in name or "name" in name else date(2024, 1, 1) for name in names
    }


@pytest.mark.parametrize(
    "sql",
    CANONICAL_QUERIES + SQL_FILES + ["freshness_sql"],
    ids=[f"inline{i}" for i in range(len(CANONICAL_QUERIES))]
    + [p.name for p in SQL_FILES]
    + ["pipeline-freshness"],
)
def test_translated_sql_as_sent_reparses_as_athena(sql: str | Path) -> None:
    if sql == "freshness_sql":  # built from .sql.tmpl templates over every contract table
        from pipeline.queries import freshness_sql

        sql = freshness_sql(list(contract.TABLES.values()))
    elif isinstance(sql, Path) and sql.parent.name == "metrics":
        # As the catalogue runs it: a metric file may name a template and its values.
        from metrics.catalogue import load_catalogue

        sql = load_catalogue().get(sql.stem).sql
    elif isinstance(sql, Path):
        sql = sql.read_text()
    canonical = parse(sql)
    params = _sample_params(canonical.placeholders)
    sent = DefaultParameterFormatter().format(translate(canonical, "athena"), params)

    reparsed = sqlglot.parse_one(sent, read="athena")

    # Same query as the canonical one with the values written in as literals.
    formatter = DefaultParameterFormatter()
    expected = canonical.tree.transform(
        lambda n: (
            sqlglot.parse_one(formatter.format("%(v)s", {"v": params[n.name]}), read="athena")
            if isinstance(n, exp.Placeholder)
            else n
        )
    )
    # Comments may move when the sent text is re-parsed; the query itself may not.
    assert reparsed.sql(dialect="athena", comments=False) == expected.sql(
        dialect="athena", comments=False
    )


@pytest.mark.parametrize("params", [{"n": 1}, {}], ids=["with-params", "no-params"])
def test_literal_percent_reaches_athena_intact(backend, status, params) -> None:
    where = " AND n = :n" if params else ""
    queue_result([("m", "integer")], [("1",)])

    make_engine().run(f"SELECT n % 7 AS m FROM t WHERE s LIKE 'a%'{where}", params)

    (execution,) = backend.executions.values()
    bound = " AND n = 1" if params else ""
    assert execution.query == f"SELECT n % 7 AS m FROM t WHERE s LIKE 'a%'{bound}"


def test_write_session_sends_statements_to_the_workgroup_with_bound_values(backend, status) -> None:
    engine = make_engine()
    sent: list[dict] = []
    engine.connection().client.meta.events.register(
        "provide-client-params.athena.StartQueryExecution",
        lambda params, **_: sent.append(dict(params)),
    )
    hostile = "O'Brien' OR '1'='1"
    update = render(
        sqlglot.parse_one("UPDATE events SET note = :to WHERE who = :who AND note LIKE '5%'"),
        "athena",
        {"to": "erased", "who": hostile},
    )
    count = render(
        sqlglot.parse_one("SELECT count(*) FROM events WHERE who = :who"),
        "athena",
        {"who": hostile},
    )
    queue_result([("remaining", "bigint")], [("3",)])

    with engine.write_session() as session:
        assert (session.dialect, session.schema) == ("athena", "analytics")
        assert session.count(count) == 3
        session.execute(update)

    assert [request["WorkGroup"] for request in sent] == [WORKGROUP, WORKGROUP]
    # A write is never answered from an earlier run's result.
    assert not any("ResultReuseConfiguration" in request for request in sent)
    queries = [execution.query for execution in backend.executions.values()]
    assert queries[1] == (
        "UPDATE events SET note = 'erased' WHERE who = 'O''Brien'' OR ''1''=''1' AND note LIKE '5%'"
    )


def test_write_session_errors_are_warehouse_errors(backend, status, monkeypatch) -> None:
    status.failure = "NOT_SUPPORTED: Modifying a non-Iceberg table is not supported"
    queue_result([("n", "bigint")], [])
    with pytest.raises(WarehouseError, match="NOT_SUPPORTED"), make_engine().write_session() as s:
        s.execute(render(sqlglot.parse_one("DELETE FROM events"), "athena", {}))

    engine = make_engine()
    error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}

    def throttled(**_):
        raise ClientError(error, "StartQueryExecution")

    monkeypatch.setattr(engine.connection().client, "start_query_execution", throttled)
    with (
        pytest.raises(TransientWarehouseError, match="ThrottlingException"),
        engine.write_session() as session,
    ):
        session.execute(render(sqlglot.parse_one("DELETE FROM events"), "athena", {}))
