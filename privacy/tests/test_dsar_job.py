"""The DSAR erasure job end to end on a private lake (and a PostgreSQL copy): counts checked
against pandas, caches purged, audit without raw ids, failures that can be run again."""

import json
import threading
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from psycopg import sql

from core.masking import MASK
from portal.roles import Access
from privacy import dsar_job, selectors, services
from privacy.dsar_preview import dsar_preview_compute
from privacy.models import AuditEvent, ConsentChange, ConsentState, DsarRequest
from privacy.signals import identity_erased
from privacy.tests.builders import approved, busy_subject, expected_counts, holds, linked
from privacy.tests.conftest import read_table
from privacy.tombstone import tombstone
from tests.support.services import wait_until
from warehouse import result_cache, watermark
from warehouse import services as warehouse
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import contract, erasure, storage
from warehouse.models import QueryRun
from warehouse.tests.pg_redshift_proxy import redshift_settings

pytestmark = pytest.mark.django_db


def test_erasure_replaces_the_ids_everywhere_and_proves_it(lake_copy, privacy_users, settings):
    identity_id, user_id = busy_subject(lake_copy)
    others = linked(lake_copy, [identity_id, user_id])
    received = []
    identity_erased.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t1")

    # Things the erasure must purge: consent (in the portal, and the lake's file of the change),
    # a cached query result, a run naming the id.
    services.consent_set(
        identity_id=identity_id, flags={"marketing": True}, source="api", actor="app"
    )
    expected = expected_counts(lake_copy, [identity_id, user_id, *others])
    assert selectors.consent_get(identity_id=identity_id)["marketing"] is True
    named = warehouse.query_submit(
        sql="SELECT count(*) AS n FROM events "
        "WHERE event_dt BETWEEN :d AND current_date AND identity_id = :who",
        params={"d": date(2026, 1, 1), "who": identity_id},
        scope=frozenset({Access.GENERAL}),
    ).run
    warehouse.query_run_execute(run_id=named.pk)
    assert result_cache.get(named.cache_key) is not None
    mark = storage.read_watermark(lake_copy)

    alice, bob = privacy_users
    dsar = services.dsar_file(
        identity_id=identity_id,
        user_id=user_id,
        reason=f"Asked by mail for {identity_id}",
        requester=alice,
        enqueue=False,
    )
    preview = dsar_preview_compute(request_id=dsar.pk).preview
    # What the approver is shown is what the job then changes: by pandas, table by table.
    # The portal's records too: the consent state and its one change set above.
    portal = {"consent_state": (1, None), "consent_changes": (1, None)}
    assert preview["rows"] == sum(r for r, _ in expected.values()) + 2
    assert preview["files"] == sum(f for _, f in expected.values())
    assert preview["linked_ids"] == len(others) and preview["unknown_ids"] == []
    assert {t["table"]: (t["rows"], t["files"]) for t in preview["tables"]} == {
        name: counts for name, counts in expected.items() if counts[0]
    } | portal
    assert not any(value in json.dumps(preview) for value in [identity_id, user_id, *others])
    services.dsar_verify(request_id=dsar.pk, method="id_document", actor=alice)
    services.dsar_approve(request_id=dsar.pk, approver=bob)
    services.dsar_queue(request_id=dsar.pk, enqueue=False)
    done = dsar_job.dsar_execute(request_id=dsar.pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    assert done.reason == "Asked by mail for [erased id]"
    tomb = tombstone(settings.PRIVACY_HASH_KEY, dsar.pk)
    results = {r.table: r for r in done.tables.all()}
    for name, (rows, files) in expected.items():
        assert (results[name].rows_changed, results[name].files_rewritten) == (rows, files), name
        assert results[name].files_with_ids == files and results[name].remaining_rows == 0
    assert done.rows_changed == sum(r for r, _ in expected.values()) > 100
    assert done.files_rewritten == sum(f for _, f in expected.values())
    # The lake itself, read again by pandas.
    for table in erasure.erasable_tables():
        frame = read_table(lake_copy, table.name)
        assert not holds(frame, table, [identity_id, user_id]).any()
        assert int(holds(frame, table, [tomb]).sum()) == expected[table.name][0]
    # The portal's own records and caches.
    assert done.identity_id == done.user_id == ""
    assert not ConsentState.objects.filter(identity_id=identity_id).exists()
    assert ConsentChange.objects.filter(identity_id=tomb).count() == 1
    assert selectors.consent_get(identity_id=identity_id)["known"] is False
    assert result_cache.get(named.cache_key) is None
    assert storage.read_watermark(lake_copy).version != mark.version
    assert identity_id not in json.dumps(QueryRun.objects.get(pk=named.pk).params)
    assert received == [
        {
            "signal": identity_erased,
            "sender": DsarRequest,
            "identity_id": identity_id,
            "user_id": user_id,
            "linked_ids": tuple(sorted(others)),
            "tombstone": tomb,
        }
    ]
    # The audit log: every step, by whom, and never a raw id.
    actions = list(done.audit.values_list("action", "actor"))
    assert actions[:5] == [
        ("dsar.filed", "priv-alice"),
        ("dsar.previewed", "dsar-preview"),
        ("dsar.identity_verified", "priv-alice"),
        ("dsar.approved", "priv-bob"),
        ("dsar.started", "dsar-job"),
    ]
    assert actions[-1] == ("dsar.verified", "dsar-job")
    assert sum(a == "dsar.table" for a, _ in actions) == len(erasure.erasable_tables())
    log = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert identity_id not in log and user_id not in log
    assert done.identity_hash in log


def test_a_user_id_alone_erases_the_identities_linked_to_it_too(lake_copy, privacy_users, settings):
    """dim_identities links identities to users: filing the user erases the person's
    identities (and their rows without the user id) as well."""
    dim = read_table(lake_copy, "dim_identities").dropna(subset=["user_id"])
    raw = read_table(lake_copy, "raw_events")
    # The user whose identities have the most rows without the user id.
    owners = raw[raw["user_id"].isna()].merge(dim[["identity_id", "user_id"]], on="identity_id")
    user_id = owners["user_id_y"].value_counts().index[0]
    identities = set(dim.loc[dim["user_id"] == user_id, "identity_id"])
    assert identities == linked(lake_copy, [user_id])
    anonymous = raw["identity_id"].isin(identities) & raw["user_id"].isna()
    assert anonymous.sum() > 0  # rows only the identity ties to the person

    done = dsar_job.dsar_execute(request_id=approved(privacy_users, user_id=user_id).pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    assert done.linked_count == len(identities) and done.linked_ids == []
    assert selectors.dsar_summary(done)["linked_ids"] == len(identities)
    tomb = tombstone(settings.PRIVACY_HASH_KEY, done.pk)
    for table in erasure.erasable_tables():
        frame = read_table(lake_copy, table.name)
        assert not holds(frame, table, [user_id, *identities]).any(), table.name
    after = read_table(lake_copy, "raw_events")
    assert (after.loc[anonymous[anonymous].index, "identity_id"] == tomb).all()
    log = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert not any(value in log for value in identities)


def test_running_again_changes_nothing(lake_copy, privacy_users):
    identity_id, _ = busy_subject(lake_copy)
    dsar = approved(privacy_users, identity_id=identity_id)
    first = dsar_job.dsar_execute(request_id=dsar.pk)
    files = {str(p): p.stat().st_ino for p in lake_copy.rglob("*.parquet")}
    assert services.dsar_queue(request_id=dsar.pk).status == DsarRequest.Status.COMPLETED
    assert dsar_job.dsar_execute(request_id=dsar.pk) is None  # nothing to claim
    assert {str(p): p.stat().st_ino for p in lake_copy.rglob("*.parquet")} == files
    assert DsarRequest.objects.get(pk=dsar.pk).rows_changed == first.rows_changed > 0


SUBJECT, BYSTANDER, SENDER = "idn_5ab1ec700001", "idn_b7578d000002", "idn_5e4de7000003"
LEAKS = [  # identity, payload: a client bug put contact data in some payloads
    (SUBJECT, '{"path":"/berlin","email":"ann@example.com"}'),
    (SUBJECT, '{"path":"/rome","note":"call +49 151 00000000","city":"rome"}'),
    (BYSTANDER, '{"path":"/paris","email":"bob@example.com"}'),
    # Someone else's row that names the subject: theirs, left as it is.
    (SENDER, f'{{"recipient":"{SUBJECT}","note":"call 0151 2345 6789"}}'),
]


@pytest.fixture
def leaky_lake(lake_copy) -> Path:
    """The lake copy with LEAKS in an extra raw_events file (returned)."""
    table = contract.table("raw_events")
    target = storage.data_files(lake_copy, table)[0]
    frame = read_table(lake_copy, "raw_events").head(len(LEAKS))
    frame = frame.drop(columns=["_file", "event_dt"])
    frame["identity_id"] = [identity for identity, _ in LEAKS]
    frame["user_id"] = None
    frame["payload"] = [payload for _, payload in LEAKS]
    extra = target.with_name("part-leak.parquet")
    storage.write_parquet(
        pa.Table.from_pandas(frame, schema=storage.arrow_schema(table), preserve_index=False),
        extra,
    )
    return extra


def assert_masked(rows: dict[str, list[str]], tomb: str) -> None:
    """``rows``: identity -> payloads after the erasure. The subject's payloads lost the contact
    data and kept the rest; the bystander's and the sender's are as they were: an erasure
    changes the subject's own rows only."""
    assert sorted(rows) == sorted([tomb, BYSTANDER, SENDER])
    berlin, rome = (json.loads(p) for p in sorted(rows[tomb]))
    assert berlin == {"path": "/berlin", "email": MASK}
    assert rome["path"] == "/rome" and rome["city"] == "rome" and "151" not in rome["note"]
    assert rows[BYSTANDER] == [LEAKS[2][1]]
    assert rows[SENDER] == [LEAKS[3][1]]


def by_identity(rows) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for identity, payload in rows:
        found.setdefault(identity, []).append(payload)
    return found


def test_other_personal_data_in_the_subjects_payloads_is_masked(
    leaky_lake, privacy_users, settings
):
    """In the erased subject's rows the contact data goes too; a bystander's row is left as it
    is (the payload check reports it, the erasure of someone else does not touch it)."""
    done = dsar_job.dsar_execute(request_id=approved(privacy_users, identity_id=SUBJECT).pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    after = pq.read_table(leaky_lake).to_pandas()
    tomb = tombstone(settings.PRIVACY_HASH_KEY, done.pk)
    assert_masked(by_identity(zip(after["identity_id"], after["payload"], strict=True)), tomb)


def test_an_unknown_subject_is_recorded_as_such_and_touches_nothing(lake_copy, privacy_users):
    before = {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in lake_copy.rglob("*.parquet")}
    alice, bob = privacy_users
    dsar = services.dsar_file(
        identity_id="idn_00000000dead", reason="r", requester=alice, enqueue=False
    )

    closed = dsar_preview_compute(request_id=dsar.pk)

    assert closed.status == DsarRequest.Status.UNKNOWN_SUBJECT and closed.is_finished
    assert closed.preview["rows"] == 0 and closed.preview["unknown_ids"] == ["identity_id"]
    # Every lake table holding ids and the portal's three records of subjects.
    assert closed.preview["tables_scanned"] == len(erasure.erasable_tables()) + 3
    assert closed.identity_id == "" and closed.identity_hash  # closed: the id is forgotten
    event = closed.audit.get(action="dsar.unknown_subject")
    assert "No id column holds the identity_id" in event.detail["note"]
    with pytest.raises(services.DsarRefused, match="not awaiting approval"):
        services.dsar_approve(request_id=dsar.pk, approver=bob)
    with pytest.raises(services.DsarRefused, match="nothing to erase"):
        services.dsar_queue(request_id=dsar.pk, enqueue=False)
    assert dsar_job.dsar_execute(request_id=dsar.pk) is None
    after = {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in lake_copy.rglob("*.parquet")}
    assert after == before


def test_a_mistyped_one_of_two_ids_makes_the_request_an_unknown_subject(lake_copy, privacy_users):
    identity_id, _ = busy_subject(lake_copy)
    dsar = services.dsar_file(
        identity_id=identity_id,
        user_id="usr_00000000beef",
        reason="r",
        requester=privacy_users[0],
        enqueue=False,
    )
    closed = dsar_preview_compute(request_id=dsar.pk)
    assert closed.status == DsarRequest.Status.UNKNOWN_SUBJECT
    assert closed.preview["unknown_ids"] == ["user_id"] and closed.preview["rows"] > 0


def test_approval_waits_for_the_preview(lake_copy, privacy_users):
    alice, bob = privacy_users
    identity_id, _ = busy_subject(lake_copy)
    dsar = services.dsar_file(identity_id=identity_id, reason="r", requester=alice, enqueue=False)
    with pytest.raises(services.DsarRefused, match="no preview yet"):
        services.dsar_approve(request_id=dsar.pk, approver=bob)
    dsar_preview_compute(request_id=dsar.pk)
    with pytest.raises(services.DsarRefused, match="identity was verified"):
        services.dsar_approve(request_id=dsar.pk, approver=bob)
    services.dsar_verify(request_id=dsar.pk, method="email_confirmation", actor=alice)
    assert services.dsar_approve(request_id=dsar.pk, approver=bob).status == "approved"


def test_the_job_of_an_identity_gone_since_the_preview_completes_with_zero_rows(
    lake_copy, privacy_users
):
    """Retention may drop a subject's last partitions between preview and run."""
    identity_id, _ = busy_subject(lake_copy)
    dsar = approved(privacy_users, identity_id=identity_id)
    DsarRequest.objects.filter(pk=dsar.pk).update(identity_id="idn_00000000dead")
    before = {str(p): p.stat().st_ino for p in lake_copy.rglob("*.parquet")}
    done = dsar_job.dsar_execute(request_id=dsar.pk)
    assert done.status == DsarRequest.Status.COMPLETED
    assert done.rows_changed == 0 and done.files_rewritten == 0
    assert {str(p): p.stat().st_ino for p in lake_copy.rglob("*.parquet")} == before
    verified = done.audit.get(action="dsar.verified")
    assert verified.detail["note"] == "No row held these ids; nothing changed."


def test_a_failed_run_is_recorded_and_can_be_run_again(lake_copy, privacy_users):
    identity_id, user_id = busy_subject(lake_copy)
    events = read_table(lake_copy, "events")
    held = events.loc[events["identity_id"] == identity_id, "_file"].iloc[0]
    # A directory where the job's temporary file goes: the run fails half-way through the lake.
    obstacle = Path(held).with_name(erasure.ERASE_TMP_PREFIX + Path(held).name)
    obstacle.mkdir()
    dsar = approved(privacy_users, identity_id=identity_id, user_id=user_id)
    failed = dsar_job.dsar_execute(request_id=dsar.pk)
    assert failed.status == DsarRequest.Status.FAILED
    assert "Is a directory" in failed.error and identity_id not in failed.error
    assert failed.audit.filter(action="dsar.failed").exists()
    assert failed.identity_id == identity_id  # kept until the erasure is verified

    obstacle.rmdir()
    services.dsar_queue(request_id=dsar.pk, enqueue=False)
    done = dsar_job.dsar_execute(request_id=dsar.pk)
    assert done.status == DsarRequest.Status.COMPLETED and done.attempts == 2
    expected = expected_counts(lake_copy, [tombstone_of(done)])
    assert done.rows_changed == sum(r for r, _ in expected.values()) > 100
    assert done.files_rewritten == sum(f for _, f in expected.values())


@pytest.mark.django_db(transaction=True)
def test_a_live_job_keeps_its_request_whatever_step_takes_long(
    lake_copy, privacy_users, settings, monkeypatch
):
    """A remote UPDATE may take minutes: the job's heartbeat goes on meanwhile, so a second
    worker cannot claim the request as dead.

    Deterministic on a busy machine: the job's clock is the test's. A step blocks until the
    test has moved the clock an hour on (60 stale limits) and seen the heartbeat carry that
    time; only then does a second worker try to claim. Without the heartbeat thread the
    request still holds its claim time, the wait fails, and the claim would succeed."""
    settings.PRIVACY_DSAR_STALE_SECONDS = 60
    clock = [timezone.now()]
    monkeypatch.setattr(dsar_job, "_now", lambda: clock[0])
    monkeypatch.setattr(dsar_job, "_beat_every", lambda: 0.05)  # beats in real time, often
    in_step, release = threading.Event(), threading.Event()
    erase_records = dsar_job._erase_portal_records

    def long_step(request, tomb):
        in_step.set()
        release.wait(300)  # as long as the test needs, with no progress to record
        erase_records(request, tomb)

    monkeypatch.setattr(dsar_job, "_erase_portal_records", long_step)
    identity_id = read_table(lake_copy, "dim_identities")["identity_id"].iloc[0]
    dsar = approved(privacy_users, identity_id=identity_id)
    done = []

    def run() -> None:
        try:
            done.append(dsar_job.dsar_execute(request_id=dsar.pk))
        finally:
            connection.close()  # the thread's own

    job = threading.Thread(target=run)
    job.start()
    try:
        assert in_step.wait(300)
        clock[0] += timedelta(hours=1)
        wait_until(lambda: DsarRequest.objects.get(pk=dsar.pk).heartbeat_at == clock[0], 120)
        claimed_by_another = dsar_job._claim(dsar.pk)
    finally:
        release.set()
        job.join()
    assert not claimed_by_another
    assert done[0].status == DsarRequest.Status.COMPLETED and done[0].attempts == 1


def test_a_file_a_writer_replaces_during_the_erasure_is_read_again(
    lake_copy, privacy_users, monkeypatch
):
    """The verification trusts no earlier read of a file that changed: an ingest that lands a
    row of the subject while the erasure runs fails the request, and a re-run erases it."""
    identity_id, user_id = busy_subject(lake_copy)
    raw = read_table(lake_copy, "raw_events")
    clean = raw[~holds(raw, contract.table("raw_events"), [identity_id, user_id])]
    # A file the first scan finds clean (no row of the subject in it).
    target = Path(
        sorted(set(clean["_file"]) - set(raw.loc[raw.identity_id == identity_id, "_file"]))[0]
    )
    landed = []
    rewrite = erasure.rewrite

    def rewrite_while_a_writer_lands(path, table, ids, tomb, **options):
        if not landed:
            data = pq.read_table(target)
            for column, value in (("identity_id", identity_id), ("payload", "{}")):
                values = data.column(column).to_pylist()
                values[0] = value
                i = data.schema.get_field_index(column)
                data = data.set_column(i, data.schema.field(i), pa.array(values, pa.string()))
            storage.write_parquet(data, target)
            landed.append(target)
        return rewrite(path, table, ids, tomb, **options)

    monkeypatch.setattr(erasure, "rewrite", rewrite_while_a_writer_lands)
    dsar = approved(privacy_users, identity_id=identity_id, user_id=user_id)
    failed = dsar_job.dsar_execute(request_id=dsar.pk)
    assert landed and failed.status == DsarRequest.Status.FAILED
    assert "1 rows still hold the ids" in failed.error and "lake.raw_events" in failed.error

    monkeypatch.setattr(erasure, "rewrite", rewrite)
    services.dsar_queue(request_id=dsar.pk, enqueue=False)
    done = dsar_job.dsar_execute(request_id=dsar.pk)
    assert done.status == DsarRequest.Status.COMPLETED
    assert not holds(
        read_table(lake_copy, "raw_events"), contract.table("raw_events"), [identity_id]
    ).any()


def tombstone_of(dsar: DsarRequest) -> str:
    from django.conf import settings

    return tombstone(settings.PRIVACY_HASH_KEY, dsar.pk)


def test_with_a_postgres_warehouse_both_the_lake_and_its_copy_are_erased(
    lake_copy, pg_warehouse, privacy_users, warehouse_pg_dsn
):
    identity_id, user_id = busy_subject(lake_copy)
    expected = expected_counts(lake_copy, [identity_id, user_id])
    cache.set("warehouse:watermark:postgres", storage.Watermark("load-1", "2026-01-31"), None)
    dsar = approved(privacy_users, identity_id=identity_id, user_id=user_id)
    done = dsar_job.dsar_execute(request_id=dsar.pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    remote_rows = {r.table: r.rows_changed for r in done.tables.filter(target="postgres")}
    assert remote_rows == {name: rows for name, (rows, _) in expected.items()}
    # The preview counted the same rows in the warehouse (no files there) as on the lake.
    previewed = {(t["target"], t["table"]): (t["rows"], t["files"]) for t in dsar.preview["tables"]}
    assert previewed == {
        **{("lake", name): counts for name, counts in expected.items() if counts[0]},
        **{("postgres", name): (rows, None) for name, (rows, _) in expected.items() if rows},
    }
    assert done.rows_changed == 2 * sum(r for r, _ in expected.values())
    assert any(s.startswith("VACUUM ") for s in done.physical_followup)
    with psycopg.connect(warehouse_pg_dsn) as conn:
        left = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE identity_id = %s OR user_id = %s").format(
                sql.Identifier(pg_warehouse, "raw_events")
            ),
            [identity_id, user_id],
        ).fetchone()[0]
    assert left == 0
    # The tables changed moved in the warehouse's watermark, and only those; the load's stays.
    moved = watermark.current("postgres")
    assert moved.version == "load-1"
    assert {name for name, _ in moved.tables} == {name for name, (n, _) in expected.items() if n}


def test_a_table_the_warehouse_does_not_hold_is_reported_empty_not_failed(
    lake_copy, pg_warehouse, privacy_users, warehouse_pg_dsn
):
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP TABLE {}").format(sql.Identifier(pg_warehouse, "fact_referrals"))
        )
    identity_id, user_id = busy_subject(lake_copy)
    expected = expected_counts(lake_copy, [identity_id, user_id])

    done = dsar_job.dsar_execute(
        request_id=approved(privacy_users, identity_id=identity_id, user_id=user_id).pk
    )

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    remote_rows = {r.table: r.rows_changed for r in done.tables.filter(target="postgres")}
    assert remote_rows["fact_referrals"] == 0
    assert remote_rows["raw_events"] == expected["raw_events"][0] > 0
    assert not any("fact_referrals" in step for step in done.physical_followup)


def test_a_warehouse_copy_of_the_subjects_payloads_is_masked_too(
    leaky_lake, pg_warehouse, privacy_users, warehouse_pg_dsn, settings
):
    done = dsar_job.dsar_execute(request_id=approved(privacy_users, identity_id=SUBJECT).pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    tomb = tombstone(settings.PRIVACY_HASH_KEY, done.pk)
    with psycopg.connect(warehouse_pg_dsn) as conn:
        rows = conn.execute(
            sql.SQL("SELECT identity_id, payload FROM {} WHERE identity_id IN (%s, %s, %s)").format(
                sql.Identifier(pg_warehouse, "raw_events")
            ),
            [tomb, BYSTANDER, SENDER],
        ).fetchall()
    assert_masked(by_identity(rows), tomb)
    raw = done.tables.get(target="postgres", table="raw_events")
    assert len(raw.statements) == 2  # the ids, then the masks


def test_through_the_redshift_driver_the_ids_and_the_contact_data_go(
    lake_copy, leaky_lake, pg_database, privacy_users, settings
):
    """The Redshift statements, run by redshift-connector (through the proxy that lets it
    talk to PostgreSQL), on a copy in `public`, where a Redshift session looks."""
    names = [t.name for t in erasure.erasable_tables()]
    load_lake(pg_database, lake_copy, tables=names, schema="public")
    identity_id, user_id = busy_subject(lake_copy)
    with redshift_settings(settings, pg_database):
        subject = dsar_job.dsar_execute(
            request_id=approved(privacy_users, identity_id=identity_id, user_id=user_id).pk
        )
        leak = dsar_job.dsar_execute(request_id=approved(privacy_users, identity_id=SUBJECT).pk)

    assert subject.status == leak.status == DsarRequest.Status.COMPLETED, subject.error
    with psycopg.connect(pg_database) as conn:
        left = conn.execute(
            "SELECT count(*) FROM public.raw_events WHERE identity_id = %s OR user_id = %s",
            [identity_id, user_id],
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT identity_id, payload FROM public.raw_events WHERE identity_id IN (%s, %s, %s)",
            [tombstone(settings.PRIVACY_HASH_KEY, leak.pk), BYSTANDER, SENDER],
        ).fetchall()
    assert left == 0 and subject.tables.get(target="redshift", table="raw_events").rows_changed
    assert_masked(by_identity(rows), tombstone(settings.PRIVACY_HASH_KEY, leak.pk))
    assert any(s.startswith("VACUUM DELETE ONLY") for s in subject.physical_followup)


def test_an_error_quoting_a_linked_id_is_recorded_without_it(lake_copy, privacy_users, monkeypatch):
    dim = read_table(lake_copy, "dim_identities").dropna(subset=["user_id"])
    identity_id, user_id = dim.sort_values("identity_id").iloc[0][["identity_id", "user_id"]]

    def engine_quoting_a_value(*args, **kwargs):
        raise RuntimeError(f"engine says: bad value {user_id}")

    dsar = approved(privacy_users, identity_id=identity_id)
    monkeypatch.setattr(erasure, "scan", engine_quoting_a_value)
    failed = dsar_job.dsar_execute(request_id=dsar.pk)

    assert failed.status == DsarRequest.Status.FAILED and failed.linked_ids == [user_id]
    assert user_id not in failed.error and "[erased id]" in failed.error
    assert user_id not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_masks_go_to_the_warehouse_in_updates_of_bounded_size(monkeypatch):
    monkeypatch.setattr(dsar_job, "MASKS_PER_UPDATE", 3)
    monkeypatch.setattr(dsar_job, "MASK_BYTES_PER_UPDATE", 100)
    pairs = [("a" * 10, "b" * 10)] * 7 + [("x" * 200, "y")]  # 30 bytes each, then 401

    chunks = list(dsar_job._by_size(pairs))

    assert [len(chunk) for chunk in chunks] == [3, 3, 1, 1]
    assert [pair for chunk in chunks for pair in chunk] == pairs
