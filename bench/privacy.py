"""Privacy: DSAR erasures of one identity on the 50M-event lake, an access export of the
busiest identity, and consent look-ups.

The erasures rewrite files of var/bench-lake in place (the ids are synthetic), so runs never
repeat an identity: a typical one (the first identity that still has a booking on the lake's
last day) and the worst case (the identity with raw events on the most days, so in the most
files). Each has its baseline: one DuckDB pass over every table holding ids (the least any
erasure must read), measured just before it (a rewrite cannot be repeated on the same
identity, so each is one baseline-then-measured pair). Consent look-ups go through the whole
Django/DRF stack with a service token, alternated one by one with a plain cache read.
"""

import time

from bench import common

CONSENT_LOOKUPS = 300
DSAR_S_MAX, ACCESS_S_MAX, CONSENT_MS_MAX = 30, 30, 5


def _next_subject() -> tuple[str, str]:
    """The first identity (by id) with a booking on the lake's last day: it is not erased yet,
    since an erased identity's bookings carry a tombstone instead."""
    import duckdb

    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    table = contract.table("fact_bookings")
    last = storage.data_files(common.BENCH_LAKE, table)[-1]
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT identity_id, user_id FROM {parquet_scan_sql([last], table)} "  # noqa: S608
            "WHERE identity_id LIKE 'idn%' ORDER BY identity_id LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise SystemExit("no identity left to erase on the bench lake's last day")
    return row[0], row[1]


def _busiest_subject() -> tuple[str, str]:
    """The identity (not erased yet) with raw events on the most days, and its user id."""
    import duckdb

    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    table = contract.table("raw_events")
    scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT identity_id, max(user_id) FROM {scan} "  # noqa: S608
            "WHERE identity_id LIKE 'idn%' GROUP BY identity_id "
            "ORDER BY count(DISTINCT event_dt) DESC, count(*) DESC, identity_id LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise SystemExit("no identity left to erase on the bench lake")
    return row[0], row[1]


def _scan_baseline(ids: list[str]) -> float:
    from warehouse.lake import erasure

    con = erasure.connect()
    started = time.perf_counter()
    for table in erasure.erasable_tables():
        erasure.scan(con, common.BENCH_LAKE, table, ids)
    con.close()
    return time.perf_counter() - started


def _request(identity_id: str, user_id: str, kind: str):
    """A request filed, verified, approved and run here; returns it done and the seconds its
    job took."""
    from django.contrib.auth.models import Group, User

    from privacy import dsar_job, services
    from privacy.dsar_preview import dsar_preview_compute

    group, _ = Group.objects.get_or_create(name="privacy")
    filer, approver = (
        User.objects.get_or_create(username=name)[0] for name in ("bench-priv-a", "bench-priv-b")
    )
    for user in (filer, approver):
        user.groups.add(group)
    dsar = services.dsar_file(
        kind=kind,
        identity_id=identity_id,
        user_id=user_id,
        reason="bench",
        requester=filer,
        enqueue=False,
    )
    dsar_preview_compute(request_id=dsar.pk)
    services.dsar_verify(request_id=dsar.pk, method="account_login", actor=filer)
    services.dsar_approve(request_id=dsar.pk, approver=approver)
    services.dsar_queue(request_id=dsar.pk, enqueue=False)
    started = time.perf_counter()
    done = dsar_job.dsar_execute(request_id=dsar.pk)
    seconds = time.perf_counter() - started
    if done.status != "completed":
        raise SystemExit(f"DSAR {dsar.pk} failed: {done.error}")
    return done, seconds


def _dsar(identity_id: str, user_id: str) -> dict:
    done, seconds = _request(identity_id, user_id, "erasure")
    tables = list(done.tables.all())
    return {
        "seconds": round(seconds, 2),
        "rows_changed": done.rows_changed,
        "files_with_ids": sum(t.files_with_ids for t in tables),
        "files_rewritten": done.files_rewritten,
        "files_in_lake": sum(t.files_total for t in tables),
        "slowest_tables": {
            t.table: round(t.duration_s, 2) for t in sorted(tables, key=lambda t: -t.duration_s)[:4]
        },
    }


def _consent() -> dict:
    from django.core.cache import cache
    from django.test import Client

    from portal.models import ServiceToken
    from privacy import services

    token = ServiceToken.generate()
    ServiceToken.objects.update_or_create(
        name="bench-consent",
        defaults={"token_hash": ServiceToken.hash(token), "scopes": ["consent:read"]},
    )
    identity = "idn_bench_consent"
    services.consent_set(
        identity_id=identity, flags={"marketing": True}, source="api", actor="bench"
    )
    client = Client()
    header = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    client.get(f"/api/consent/{identity}", **header)  # warm: cached from here on
    key = f"privacy:consent:{identity}"

    def lookup(_round: int) -> None:
        assert client.get(f"/api/consent/{identity}", **header).status_code == 200

    samples = common.alternate(
        {"cache_get": lambda _: cache.get(key), "lookup": lookup}, CONSENT_LOOKUPS
    )
    return {"baseline_is": "a cache read", **common.paired(samples["cache_get"], samples["lookup"])}


def _erasure(identity_id: str, user_id: str) -> dict:
    baseline = _scan_baseline([identity_id, user_id])
    dsar = _dsar(identity_id, user_id)
    return {
        **dsar,
        "scan_baseline_s": round(baseline, 2),
        "ratio_to_scan": round(dsar["seconds"] / baseline, 2),
    }


def _access(identity_id: str, user_id: str) -> dict:
    """An access export of the subject, against the same one-pass scan baseline."""
    baseline = _scan_baseline([identity_id, user_id])
    done, seconds = _request(identity_id, user_id, "access")
    return {
        "seconds": round(seconds, 2),
        "rows_exported": sum(t["rows"] for t in done.export_tables),
        "tables": len(done.export_tables),
        "zip_bytes": done.export_bytes,
        "scan_baseline_s": round(baseline, 2),
        "ratio_to_scan": round(seconds / baseline, 2),
    }


def run() -> dict:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _scan_baseline(["warm-up"])  # untimed: the OS page cache as every later scan finds it
    typical = _erasure(*_next_subject())
    busiest_subject = _busiest_subject()
    # Exported before it is erased: afterwards its rows hold a tombstone.
    access = _access(*busiest_subject)
    busiest = _erasure(*busiest_subject)
    consent = _consent()
    erasures = (typical, busiest)
    return {
        "dsar": typical,
        "dsar_busiest_identity": busiest,
        "access_export_busiest_identity": access,
        "consent_lookup": consent,
        "targets": {
            "dsar_s_max": DSAR_S_MAX,
            "access_export_s_max": ACCESS_S_MAX,
            "files_rewritten_equals_files_with_ids": True,
            "consent_median_ms_max": CONSENT_MS_MAX,
        },
        "met": {
            "dsar_s_max": all(e["seconds"] <= DSAR_S_MAX for e in erasures),
            "access_export_s_max": access["seconds"] <= ACCESS_S_MAX,
            "files_rewritten_equals_files_with_ids": all(
                e["files_rewritten"] == e["files_with_ids"] for e in erasures
            ),
            "consent_median_ms_max": consent["measured"]["median_ms"] <= CONSENT_MS_MAX,
        },
    }
