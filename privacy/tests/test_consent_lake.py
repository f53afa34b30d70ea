"""The lake writer of consent (privacy.consent_lake): a change made in the portal is a row of the
lake's consent_changes, read back here with pyarrow and DuckDB (the embedded lake) or psycopg
(PostgreSQL), not through the portal's code; a write that fails leaves both stores as they were.
"""

import datetime
import re
from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
import sqlglot
from pyathena.formatter import DefaultParameterFormatter

from privacy import consent, consent_lake
from privacy.consent_lake import ConsentLakeUnavailable, LakeChange
from privacy.models import AuditEvent, ConsentChange, ConsentState
from warehouse import watermark
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import replace_sql, storage

pytestmark = pytest.mark.django_db

CHANGE_ID = re.compile(r"cns_[0-9a-f]{12}")
IDENTITY = "idn_0a1b2c3d4e5f"
# Where the lake's layout puts consent_changes (docs/lake_contract.md).
PARTITIONS = "gold/consent_changes/event_dt=*"
COLUMNS = ["change_id", "identity_id", "user_id", "flag", "value", "source", "changed_ts"]


def lake_files(root: Path) -> list[Path]:
    return sorted(root.glob(f"{PARTITIONS}/*.parquet"))


def duckdb_rows(root: Path) -> list[tuple]:
    """Every row of consent_changes with its partition, as DuckDB reads the files."""
    pattern = root / PARTITIONS / "*.parquet"
    with duckdb.connect() as con:
        return con.execute(
            f"SELECT {', '.join(COLUMNS)}, event_dt FROM read_parquet('{pattern}', "
            "hive_partitioning = true, hive_types = {'event_dt': DATE}) ORDER BY change_id"
        ).fetchall()


def utc_naive(at: datetime.datetime) -> datetime.datetime:
    return at.astimezone(datetime.UTC).replace(tzinfo=None)


def nothing_changed(root: Path) -> None:
    """Neither store holds a change: no portal row, no audit, no file the portal writes (not
    even a temporary one) under ``root``."""
    assert not ConsentChange.objects.exists() and not ConsentState.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT_CHANGED).exists()
    assert not list(root.rglob("portal-*")) and not list(root.rglob(".tmp-*"))


def test_a_change_made_in_the_portal_is_a_new_file_of_its_days_partition(settings):
    root = Path(settings.LAKE_ROOT)
    consent.consent_set(
        identity_id=IDENTITY,
        flags={"marketing": True, "analytics": False},
        source="api",
        actor="service:app",
    )
    changes = {c.lake_change_id: c for c in ConsentChange.objects.all()}
    assert len(changes) == 2 and all(CHANGE_ID.fullmatch(i) for i in changes)
    (only,) = lake_files(root)
    day = utc_naive(next(iter(changes.values())).changed_at).date()
    assert only.parent.name == f"event_dt={day}"
    assert only.name.startswith("portal-cns_")
    assert pq.read_schema(only).names == COLUMNS  # the partition column is the directory's
    rows = duckdb_rows(root)
    assert rows == sorted(
        (i, IDENTITY, None, c.flag, c.value, "api", utc_naive(c.changed_at), day)
        for i, c in changes.items()
    )
    assert not list(root.rglob(".tmp-*"))

    # A second change is a file of its own: nothing written before is rewritten.
    before = storage.read_watermark(root).version
    consent.consent_set(
        identity_id=IDENTITY, flags={"marketing": False}, source="settings", actor="service:app"
    )
    assert len(lake_files(root)) == 2 and only in lake_files(root)
    assert len(duckdb_rows(root)) == 3
    # Cached results that read consent_changes are stale now.
    assert storage.read_watermark(root).version != before


def test_a_lake_that_cannot_be_written_fails_the_change_and_changes_nothing(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.LAKE_ROOT = blocker / "lake"
    with pytest.raises(ConsentLakeUnavailable, match="could not be written") as failed:
        consent.consent_set(
            identity_id=IDENTITY, flags={"marketing": True}, source="api", actor="app"
        )
    assert str(blocker) not in str(failed.value)  # the server's path stays on the server
    nothing_changed(tmp_path)


def test_a_file_written_before_the_watermark_failed_is_taken_back(settings):
    root = Path(settings.LAKE_ROOT)
    # The watermark cannot be written (a directory stands where its file goes).
    (root / storage.WATERMARK_FILE).mkdir(parents=True)
    with pytest.raises(ConsentLakeUnavailable):
        consent.consent_set(
            identity_id=IDENTITY,
            flags={"personalization": True},
            source="privacy_team",
            actor="priv-alice",
            instruction="phone_call",
            evidence="call of 7 Dec, ticket T-19",
        )
    nothing_changed(root)


def test_a_write_holds_one_days_changes():
    late = datetime.datetime(2026, 2, 1, 23, 59, tzinfo=datetime.UTC)
    changes = [
        LakeChange("cns_000000000001", IDENTITY, "marketing", True, "api", late),
        LakeChange(
            "cns_000000000002",
            IDENTITY,
            "marketing",
            False,
            "api",
            late + datetime.timedelta(minutes=2),
        ),
    ]
    with pytest.raises(ValueError, match="one day"):
        consent_lake.consent_changes_append(changes=changes)


def test_older_portal_changes_get_the_same_id_each_time():
    first = consent_lake.change_id_of_portal_row(41)
    assert CHANGE_ID.fullmatch(first)
    assert consent_lake.change_id_of_portal_row(41) == first
    assert consent_lake.change_id_of_portal_row(42) != first


# --- remote warehouses


@pytest.fixture
def pg_consent(lake_copy, pg_database, settings):
    """consent_changes of the demo lake in a PostgreSQL of the test's own, as the warehouse."""
    load_lake(pg_database, lake_copy, tables=["consent_changes"], schema="lake")
    settings.WAREHOUSE = "postgres"
    settings.WAREHOUSE_POSTGRES_URL = pg_database
    return pg_database


def pg_rows(dsn: str, identity_id: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            f"SELECT {', '.join(COLUMNS)}, event_dt FROM lake.consent_changes "
            "WHERE identity_id = %s ORDER BY changed_ts, change_id",
            [identity_id],
        ).fetchall()


def pg_count_table(dsn: str) -> int:
    """How many consent_changes tables the warehouse holds."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'consent_changes'"
        ).fetchone()[0]


def pg_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM lake.consent_changes").fetchone()[0]


def test_on_postgres_a_change_is_one_insert_and_the_lake_history_comes_back(pg_consent, lake_copy):
    before = pg_count(pg_consent)
    mark = watermark.current("postgres")
    consent.consent_set(
        identity_id=IDENTITY,
        flags={"personalization": True},
        source="privacy_team",
        actor="priv-alice",
        instruction="signed_form",
        evidence="form SF-2026-118",
    )
    change = ConsentChange.objects.get()
    assert pg_rows(pg_consent, IDENTITY) == [
        (
            change.lake_change_id,
            IDENTITY,
            None,
            "personalization",
            True,
            "privacy_team",
            utc_naive(change.changed_at),
            utc_naive(change.changed_at).date(),
        )
    ]
    assert pg_count(pg_consent) == before + 1
    assert watermark.current("postgres") != mark
    assert not list(lake_copy.glob(f"{PARTITIONS}/portal-*"))  # the embedded lake is not used

    # The warehouse's history of an identity comes in through the privacy team's view.
    with psycopg.connect(pg_consent) as conn:
        (busy,) = conn.execute(
            "SELECT identity_id FROM lake.consent_changes GROUP BY identity_id "
            "ORDER BY count(*) DESC, identity_id LIMIT 1"
        ).fetchone()
    expected = {r[0] for r in pg_rows(pg_consent, busy)}
    assert consent.consent_import_identity(identity_id=busy) == len(expected) >= 3
    imported = ConsentChange.objects.filter(identity_id=busy)
    assert {c.lake_change_id for c in imported} == expected
    assert all(c.from_lake for c in imported)


def test_on_postgres_a_missing_table_fails_the_change_and_changes_nothing(
    pg_consent, settings, tmp_path
):
    with psycopg.connect(pg_consent) as conn:
        conn.execute("DROP TABLE lake.consent_changes CASCADE")
    with pytest.raises(ConsentLakeUnavailable, match="no consent_changes table"):
        consent.consent_set(
            identity_id=IDENTITY, flags={"marketing": True}, source="api", actor="app"
        )
    nothing_changed(tmp_path)
    assert pg_count_table(pg_consent) == 0


def test_athena_gets_one_insert_with_every_value_bound():
    at = datetime.datetime(2026, 2, 1, 10, 30, 0, 123456, tzinfo=datetime.UTC)
    change = LakeChange("cns_0123456789ab", IDENTITY, "marketing", True, "privacy_team", at)
    insert = replace_sql.day_insert(
        consent_lake.TABLE, "athena", "analytics", change.day, [change.row()]
    )
    assert insert.sql.startswith('INSERT INTO "analytics"."consent_changes" (change_id, ')
    for text in (IDENTITY, "cns_", "2026", "privacy_team"):
        assert text not in insert.sql
    # What pyathena sends (it inlines the values itself) parses, each value intact.
    sent = DefaultParameterFormatter().format(insert.sql, insert.params)
    tree = sqlglot.parse_one(sent, read="trino")
    (row,) = tree.expression.expressions
    values = dict(zip([*COLUMNS, "event_dt"], row.expressions, strict=True))
    assert values["change_id"].this == "cns_0123456789ab"
    assert values["identity_id"].this == IDENTITY
    assert isinstance(values["user_id"], sqlglot.exp.Null)
    assert values["value"].this.sql() == "TRUE"
    assert values["changed_ts"].this.this == "2026-02-01 10:30:00.123456"
    assert values["event_dt"].this.this == "2026-02-01"
