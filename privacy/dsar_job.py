"""The DSAR erasure job: replace a subject's ids by the request's tombstone everywhere the
contract says ids live, verify by re-scanning, purge caches, and record it all.

Targets: the embedded lake (Parquet files rewritten one by one, see warehouse.lake.erasure)
and, when the warehouse is Athena, Redshift or PostgreSQL, UPDATE statements there (see
warehouse.lake.erasure_sql). Every step can be repeated: a run killed anywhere is re-run from
the files and tables that still hold the ids.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from core.engines import REMOTE_ENGINES
from core.masking import mask_personal_data
from portal.lease import lease_renewed
from privacy import selectors
from privacy.models import AuditEvent, ConsentChange, ConsentState, DsarRequest, DsarTableResult
from privacy.services import audit_log
from privacy.signals import identity_erased
from privacy.tombstone import TOMBSTONE_PREFIX
from privacy.tombstone import tombstone as make_tombstone
from warehouse import result_cache, watermark
from warehouse.engines.base import WriteSession
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import contract, erasure, erasure_sql, storage
from warehouse.lake.contract import Table
from warehouse.lake.storage import bump_watermark
from warehouse.models import QueryRun

log = logging.getLogger(__name__)

LAKE = "lake"
WORKER = "dsar-job"
PROGRESS_EVERY_S = 0.5
# Athena takes statements up to 262,144 bytes, values inlined by its driver.
MASKS_PER_UPDATE, MASK_BYTES_PER_UPDATE = 200, 120_000
State = DsarTableResult.State


class ErasureIncomplete(Exception):
    """The re-scan still found the ids."""


def dsar_execute(*, request_id: int) -> DsarRequest | None:
    """Run (or resume) the job of a queued request (its erasure, or an access request's export);
    None if it is not this run's to do.

    A failure leaves the request failed, with its error, ready to be run again."""
    if not _claim(request_id):
        return None
    request = DsarRequest.objects.get(pk=request_id)
    audit_log(
        action=AuditEvent.Action.DSAR_STARTED,
        actor=WORKER,
        request=request,
        detail={"attempt": request.attempts, "targets": targets()},
    )
    with _heartbeat(request_id):
        try:
            if request.kind == DsarRequest.Kind.ACCESS:
                # Here, not at the top: the export builds on this module's targets and links.
                from privacy.dsar_export import dsar_export_build

                return dsar_export_build(request)
            return _erase(request)
        except Exception as err:
            # Logged and recorded (status, error, audit); the request can be run again.
            _fail(request, err)
            return DsarRequest.objects.get(pk=request_id)


def _erase(request: DsarRequest) -> DsarRequest:
    tomb = make_tombstone(settings.PRIVACY_HASH_KEY, request.pk)
    request = link(request)
    for target in targets():
        for table in erasure.erasable_tables():
            DsarTableResult.objects.get_or_create(request=request, target=target, table=table.name)
        if target == LAKE:
            _erase_lake(request, tomb)
        else:
            _erase_remote(request, tomb, target)
    results = list(request.tables.all())
    remaining = sum(r.remaining_rows or 0 for r in results)
    if remaining:
        where = sorted(f"{r.target}.{r.table}" for r in results if r.remaining_rows)
        raise ErasureIncomplete(
            f"{remaining} rows still hold the ids after erasure ({', '.join(where)}); "
            "run the request again."
        )
    _erase_portal_records(request, tomb)
    _purge_caches(request, tomb)
    return _complete(request, results)


def targets() -> list[str]:
    """Where the erasure goes: the lake when it has tables, the remote warehouse if any."""
    found = []
    root = Path(settings.LAKE_ROOT)
    if any(storage.table_dir(root, t).is_dir() for t in erasure.erasable_tables()):
        found.append(LAKE)
    if settings.WAREHOUSE in REMOTE_ENGINES:
        found.append(settings.WAREHOUSE)
    return found


def link(request: DsarRequest) -> DsarRequest:
    """Add the ids linked to the filed ones, once (before anything is erased, so a resumed run
    finds the same)."""
    if request.linked_ids is not None:
        return request
    linked = linked_ids(request.ids)
    DsarRequest.objects.filter(pk=request.pk).update(linked_ids=linked, linked_count=len(linked))
    return DsarRequest.objects.get(pk=request.pk)


def linked_ids(filed: tuple[str, ...]) -> list[str]:
    """The ids linked to ``filed`` in two steps: the user of an identity, and that user's other
    identities; or a user's identities, and their users. Found in the lake, or in the warehouse
    when there is no lake."""
    found = set(filed)
    frontier: tuple[str, ...] = filed
    for _step in range(2):
        frontier = tuple(sorted(_linked(frontier) - found))
        found.update(frontier)
    return sorted(found - set(filed))


def _linked(ids: tuple[str, ...]) -> set[str]:
    """The ids linked to ``ids`` in one step, from the lake if it holds the link table, else
    from the warehouse; an earlier request's tombstone is nobody's id."""
    if not ids:
        return set()
    root = Path(settings.LAKE_ROOT)
    found: set[str] = set()
    if storage.data_files(root, contract.table(erasure.LINK_TABLE)):
        con = erasure.connect(settings.DUCKDB_THREADS)
        try:
            found = erasure.linked_ids(con, root, ids)
        finally:
            con.close()
    elif settings.WAREHOUSE in REMOTE_ENGINES:
        with get_remote_engine().write_session() as session:
            if erasure.LINK_TABLE in session.table_names():
                statement = erasure_sql.linked_statement(session.dialect, session.schema, ids)
                found = {value for value in session.values(statement) if value} - set(ids)
    return {value for value in found if not value.startswith(TOMBSTONE_PREFIX)}


def _now() -> datetime:
    """The job's clock (a test drives it)."""
    return timezone.now()


def _beat_every() -> float:
    """Seconds between two heartbeats: four per stale limit."""
    return settings.PRIVACY_DSAR_STALE_SECONDS / 4


def _claim(request_id: int) -> bool:
    now = _now()
    stale = now - timedelta(seconds=settings.PRIVACY_DSAR_STALE_SECONDS)
    status = DsarRequest.Status
    return bool(
        DsarRequest.objects.filter(pk=request_id)
        .filter(Q(status=status.QUEUED) | Q(status=status.RUNNING, heartbeat_at__lt=stale))
        .update(
            status=status.RUNNING,
            attempts=F("attempts") + 1,
            heartbeat_at=now,
            started_at=Coalesce("started_at", now),
            error="",
        )
    )


@contextmanager
def _heartbeat(request_id: int) -> Iterator[None]:
    """Touch the request's heartbeat four times per stale limit while the job works, whatever
    step it is in (one Athena UPDATE may take minutes): only a dead job looks stale, so no
    second run claims a live request."""

    def renew() -> None:
        DsarRequest.objects.filter(pk=request_id).update(heartbeat_at=_now())

    with lease_renewed(renew, every_s=_beat_every(), name=f"dsar-{request_id}-heartbeat"):
        yield


def _result(request: DsarRequest, target: str, table: str) -> DsarTableResult:
    return DsarTableResult.objects.get(request=request, target=target, table=table)


@contextmanager
def _timed(row: DsarTableResult) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        DsarTableResult.objects.filter(pk=row.pk).update(
            duration_s=F("duration_s") + (time.monotonic() - started)
        )


# --- the embedded lake


def _erase_lake(request: DsarRequest, tomb: str) -> None:
    """Scan every table, rewrite the files holding the ids (all tables' files in one pool, so
    both cores stay busy), then verify.

    The verification reads the id columns of every file again. The free-text columns, which
    cost most of a scan, are read again in every file that changed since this run's first scan
    or held the ids then; a file the first scan found clean and that is unchanged since (same
    inode, size and modification time) holds the same text it was just read with."""
    root = Path(settings.LAKE_ROOT)
    ids = request.ids
    # A first attempt has written no tombstone: looking for it is only needed when resuming.
    earlier_tomb = tomb if request.attempts > 1 else None
    with erasure.lake_lock(root, timeout_s=settings.PRIVACY_DSAR_STALE_SECONDS):
        con = erasure.connect(settings.DUCKDB_THREADS)
        try:
            clean: dict[str, dict[Path, erasure.FileState]] = {}
            work: list[tuple[DsarTableResult, Table, erasure.FileCount]] = []
            for table in erasure.erasable_tables():
                row = _result(request, LAKE, table.name)
                if row.state == State.DONE:
                    continue
                with _timed(row):
                    todo, clean[table.name] = _scan_lake_table(
                        row, root, table, ids, earlier_tomb, con
                    )
                work += [(row, table, hit) for hit in todo]
            _rewrite_lake_files(work, ids, tomb)
            for table in erasure.erasable_tables():
                row = _result(request, LAKE, table.name)
                with _timed(row):
                    found = _verify_lake_table(
                        con, root, table, ids, tomb, clean.get(table.name, {})
                    )
                _record(
                    request,
                    row,
                    rows_changed=sum(f.tombstoned for f in found),
                    files_rewritten=sum(1 for f in found if f.tombstoned),
                    remaining=sum(f.matching for f in found),
                )
        finally:
            con.close()


def _scan_lake_table(
    row: DsarTableResult,
    root: Path,
    table: Table,
    ids: tuple[str, ...],
    earlier_tomb: str | None,
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[erasure.FileCount], dict[Path, erasure.FileState]]:
    """The files to rewrite, and the state of the files found clean (for the verification)."""
    erasure.remove_stale_rewrites(root, table)
    files = storage.data_files(root, table)
    states = erasure.file_states(files)  # before the scan: a change during it shows later
    DsarTableResult.objects.filter(pk=row.pk).update(state=State.SCANNING, files_total=len(files))
    # Files erased by an earlier, interrupted attempt hold the tombstone: they count as
    # files that held the ids.
    found = erasure.scan(con, root, table, ids, earlier_tomb, files=files)
    todo = [f for f in found if f.matching]
    DsarTableResult.objects.filter(pk=row.pk).update(
        state=State.REWRITING,
        files_with_ids=len(found),
        files_rewritten=len(found) - len(todo),
        rows_changed=sum(f.tombstoned for f in found),
    )
    held = {f.path for f in found}
    return todo, {path: state for path, state in states.items() if path not in held}


@dataclass
class _Progress:
    files: int = 0
    rows: int = 0
    seconds: float = 0.0


def _rewrite_lake_files(
    work: list[tuple[DsarTableResult, Table, erasure.FileCount]],
    ids: tuple[str, ...],
    tomb: str,
) -> None:
    def rewrite(item: tuple[DsarTableResult, Table, erasure.FileCount]) -> tuple[int, float]:
        started = time.monotonic()
        rows = erasure.rewrite(item[2].path, item[1], ids, tomb, mask=mask_personal_data)
        return rows, time.monotonic() - started

    pending: dict[int, _Progress] = defaultdict(_Progress)  # by table result, since last write

    def record_progress() -> None:
        for pk, progress in pending.items():
            DsarTableResult.objects.filter(pk=pk).update(
                files_rewritten=F("files_rewritten") + progress.files,
                rows_changed=F("rows_changed") + progress.rows,
                duration_s=F("duration_s") + progress.seconds,
            )
        pending.clear()

    # Largest first, so that the last file to finish is a small one.
    work = sorted(work, key=lambda item: -item[2].path.stat().st_size)
    recorded = time.monotonic()
    # pyarrow releases the GIL: files are rewritten in parallel, progress recorded here, a few
    # times a second rather than per file (hundreds of small files would cost seconds).
    with ThreadPoolExecutor(max_workers=max(1, settings.DUCKDB_THREADS)) as pool:
        for (row, _table, _hit), (rows, seconds) in zip(work, pool.map(rewrite, work), strict=True):
            progress = pending[row.pk]
            progress.files += 1
            progress.rows += rows
            progress.seconds += seconds
            if time.monotonic() - recorded >= PROGRESS_EVERY_S:
                record_progress()
                recorded = time.monotonic()
    record_progress()


def _verify_lake_table(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    table: Table,
    ids: tuple[str, ...],
    tomb: str,
    clean: dict[Path, erasure.FileState],
) -> list[erasure.FileCount]:
    files = storage.data_files(root, table)
    states = erasure.file_states(files)
    unchanged = [f for f in files if f in clean and clean[f] == states.get(f)]
    skip = set(unchanged)
    changed = [f for f in files if f not in skip]
    return erasure.scan(con, root, table, ids, tomb, files=changed) + erasure.scan(
        con, root, table, ids, tomb, files=unchanged, text=False
    )


def _record(
    request: DsarRequest,
    row: DsarTableResult,
    *,
    rows_changed: int,
    files_rewritten: int | None,
    remaining: int,
) -> None:
    row.refresh_from_db()
    row.rows_changed = rows_changed
    if files_rewritten is not None:
        row.files_rewritten = files_rewritten
    row.remaining_rows = remaining
    row.state = State.DONE if remaining == 0 else State.REWRITING
    row.save()
    audit_log(
        action=AuditEvent.Action.DSAR_TABLE,
        actor=WORKER,
        request=request,
        detail={
            "target": row.target,
            "table": row.table,
            "rows_changed": row.rows_changed,
            "files_rewritten": row.files_rewritten,
            "remaining_rows": remaining,
            "duration_s": round(row.duration_s, 3),
        },
    )


# --- remote warehouses


def _erase_remote(request: DsarRequest, tomb: str, engine: str) -> None:
    ids = request.ids
    followup: list[str] = []
    with get_remote_engine(engine).write_session() as session:
        schema = session.schema
        present = session.table_names()
        for table in erasure.erasable_tables():
            row = _result(request, engine, table.name)
            if table.name not in present:
                # A warehouse may hold a subset of the lake: nothing of the subject is there.
                if row.state != State.DONE:
                    _record(request, row, rows_changed=0, files_rewritten=None, remaining=0)
                continue
            followup += erasure_sql.physical_followup(table, engine, schema)
            if row.state == State.DONE:
                continue
            with _timed(row):
                update = erasure_sql.update_statement(table, engine, schema, ids, tomb)
                session.execute(update)
                masks = _mask_remote_texts(session, table, engine, schema, tomb)
                remaining = session.count(erasure_sql.count_statement(table, engine, schema, ids))
                erased = session.count(erasure_sql.count_statement(table, engine, schema, [tomb]))
            statements = [update.sql, *(m.sql for m in masks)]
            DsarTableResult.objects.filter(pk=row.pk).update(statements=statements)
            _record(request, row, rows_changed=erased, files_rewritten=None, remaining=remaining)
    DsarRequest.objects.filter(pk=request.pk).update(physical_followup=followup)


def _mask_remote_texts(
    session: WriteSession, table: Table, engine: str, schema: str | None, tomb: str
) -> list[erasure_sql.Statement]:
    """Personal data in the free text of the subject's own rows (now holding the tombstone) is
    masked as on the lake: each distinct text is masked here and set back by value, many per
    UPDATE (one Athena UPDATE is a job of its own) but within a statement size Athena takes.
    Masked text masks to itself, so a resumed run finds nothing left to do."""
    statements = []
    for column in erasure.text_columns(table):
        texts = session.values(erasure_sql.texts_statement(table, column, engine, schema, tomb))
        pairs = [(text, masked) for text in texts if (masked := mask_personal_data(text)) != text]
        for chunk in _by_size(pairs):
            statement = erasure_sql.mask_statement(table, column, engine, schema, tomb, chunk)
            session.execute(statement)
            statements.append(statement)
    return statements


def _by_size(pairs: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """Chunks of (original, masked) pairs: at most MASKS_PER_UPDATE, and at most
    MASK_BYTES_PER_UPDATE of text as the statement holds it (each original twice)."""
    chunk: list[tuple[str, str]] = []
    size = 0
    for original, masked in pairs:
        cost = 2 * len(original.encode()) + len(masked.encode())
        if chunk and (len(chunk) == MASKS_PER_UPDATE or size + cost > MASK_BYTES_PER_UPDATE):
            yield chunk
            chunk, size = [], 0
        chunk.append((original, masked))
        size += cost
    if chunk:
        yield chunk


# --- the portal's own records and caches


@transaction.atomic
def _erase_portal_records(request: DsarRequest, tomb: str) -> None:
    """Consent of the identity and query-run parameters naming the ids take the tombstone.

    The one sanctioned change of the append-only consent history."""
    # Consent is kept per identity: the filed identity and those linked to the subject.
    ConsentState.objects.filter(identity_id__in=request.ids).update(identity_id=tomb)
    ConsentChange.objects.filter(identity_id__in=request.ids).update(identity_id=tomb)
    for value in request.ids:
        runs = QueryRun.objects.annotate(text=Cast("params", TextField())).filter(
            text__contains=value
        )
        for run in runs:
            params = {
                name: {**spec, "value": tomb} if spec.get("value") == value else spec
                for name, spec in run.params.items()
            }
            QueryRun.objects.filter(pk=run.pk).update(params=params)


def _purge_caches(request: DsarRequest, tomb: str) -> None:
    """Cached results that read a table the erasure changed (or whose parameters named the ids)
    may hold the ids or numbers computed from them: they go, and those tables' watermarks move
    so that no cache key computed before the erasure is used again. Results of the other tables
    stay served: the subject has no row there."""
    changed = set(request.tables.filter(rows_changed__gt=0).values_list("table", flat=True))
    result_cache.drop_reading(tables=changed, params_containing=tomb)
    root = Path(settings.LAKE_ROOT)
    if changed and root.is_dir():
        bump_watermark(root, tables=changed)
    for engine in REMOTE_ENGINES:
        if changed:
            watermark.remote_changed(engine, f"dsar{request.pk}", tables=changed)
    cache.delete_many([selectors.consent_cache_key(value) for value in request.ids])
    identity_erased.send(
        sender=DsarRequest,
        identity_id=request.identity_id,
        user_id=request.user_id,
        linked_ids=tuple(request.linked_ids or ()),
        tombstone=tomb,
    )


def _complete(request: DsarRequest, results: list[DsarTableResult]) -> DsarRequest:
    lake = [r for r in results if r.target == LAKE]
    with transaction.atomic():
        request = DsarRequest.objects.select_for_update().get(pk=request.pk)
        request.status = DsarRequest.Status.COMPLETED
        request.finished_at = timezone.now()
        request.rows_changed = sum(r.rows_changed for r in results)
        request.files_rewritten = sum(r.files_rewritten for r in lake)
        request.remaining_rows = 0
        request.forget_ids("[erased id]")
        request.save()
        audit_log(
            action=AuditEvent.Action.DSAR_VERIFIED,
            actor=WORKER,
            request=request,
            detail={
                "rows_changed": request.rows_changed,
                "files_rewritten": request.files_rewritten,
                "remaining_rows": 0,
                "tables_scanned": len(results),
                "linked_ids": request.linked_count or 0,
                "note": "" if request.rows_changed else "No row held these ids; nothing changed.",
            },
        )
    return request


def _fail(request: DsarRequest, err: Exception) -> None:
    request = DsarRequest.objects.get(pk=request.pk)  # with the linked ids, if found by now
    message = str(err) if isinstance(err, ErasureIncomplete | erasure.LakeBusy) else repr(err)
    for value in request.ids:  # an engine's message may quote a value
        message = message.replace(value, "[erased id]")
    log.exception("DSAR request %s failed", request.pk)
    DsarRequest.objects.filter(pk=request.pk).update(
        status=DsarRequest.Status.FAILED, finished_at=timezone.now(), error=message[:5000]
    )
    audit_log(
        action=AuditEvent.Action.DSAR_FAILED,
        actor=WORKER,
        request=request,
        detail={"error": message[:500]},
    )
