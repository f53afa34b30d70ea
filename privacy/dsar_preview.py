"""What a DSAR erasure would change, scanned once the request is filed and shown to the
approver: per target and table, the files and rows holding the subject's ids, and how many ids
dim_identities links to them (a count: the linked ids are never shown).

The scan takes the erasure job's own read path (warehouse.lake.erasure.scan over the lake's
id columns; the count statements in a remote warehouse), so the preview counts exactly the
rows the job would change. A request whose filed ids no id column holds is an unknown subject:
it is closed as such and nothing is ever erased for it.
"""

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pipeline.selectors import dead_letter_samples_naming
from privacy import dsar_job
from privacy.models import AuditEvent, ConsentChange, ConsentState, DsarRequest
from privacy.services import audit_log
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import erasure, erasure_sql

log = logging.getLogger(__name__)

WORKER = "dsar-preview"


def dsar_preview_compute(*, request_id: int) -> DsarRequest:
    """Scan what the erasure of a filed request would change and keep it on the request; close
    it as an unknown subject when none of its ids is held anywhere. Any other state: unchanged.

    A failed scan is kept as the preview's error (the approver cannot approve on it)."""
    request = DsarRequest.objects.get(pk=request_id)
    if request.status != DsarRequest.Status.FILED:
        return request
    try:
        preview = _scan(request)
    except Exception as err:  # kept on the request and shown; it can be scanned again
        log.exception("DSAR %s: preview scan failed", request_id)
        message = str(err)
        for value in request.ids:  # an engine's message may quote a value
            message = message.replace(value, "[id]")
        preview = {"computed_at": timezone.now().isoformat(), "error": message[:1000]}
        DsarRequest.objects.filter(pk=request_id, status=DsarRequest.Status.FILED).update(
            preview=preview
        )
        return DsarRequest.objects.get(pk=request_id)
    return _record(request_id, preview)


@transaction.atomic
def _record(request_id: int, preview: dict) -> DsarRequest:
    request = DsarRequest.objects.select_for_update().get(pk=request_id)
    if request.status != DsarRequest.Status.FILED:  # approved or closed meanwhile
        return request
    request.preview = preview
    unknown = bool(preview["unknown_ids"])
    if unknown:
        request.status = DsarRequest.Status.UNKNOWN_SUBJECT
        request.finished_at = timezone.now()
        request.forget_ids("[id]")  # closed: nothing will run for it
    request.save()
    keys = ("targets", "tables_scanned", "rows", "files", "linked_ids", "unknown_ids")
    counts = {k: preview[k] for k in keys}
    audit_log(
        action=AuditEvent.Action.DSAR_UNKNOWN_SUBJECT
        if unknown
        else AuditEvent.Action.DSAR_PREVIEWED,
        actor=WORKER,
        request=request,
        detail={
            **counts,
            "note": f"No id column holds the {' and the '.join(preview['unknown_ids'])}: "
            "nothing will be erased or exported."
            if unknown
            else "",
        },
    )
    return request


def _scan(request: DsarRequest) -> dict:
    linked = dsar_job.linked_ids(request.ids)
    ids = (*request.ids, *linked)
    tables: list[dict] = []
    for target in (*dsar_job.targets(), PORTAL):
        tables += [{"target": target, **t} for t in _scan_target(target, ids)]
    rows = sum(t["rows"] for t in tables)
    # Which filed ids no id column holds (a mistyped one of two would be missed silently). One
    # filed id is held when anything is: linked ids come from a row holding it.
    filed = _filed(request)
    if len(filed) == 1 or not rows:
        unknown = [] if rows else [kind for kind, _ in filed]
    else:
        unknown = [kind for kind, value in filed if not _rows_holding((value,))]
    return {
        "computed_at": timezone.now().isoformat(),
        "targets": dsar_job.targets(),
        "tables_scanned": len(tables),
        "linked_ids": len(linked),
        "unknown_ids": unknown,
        "rows": rows,
        "files": sum(t["files"] or 0 for t in tables),
        # Only the tables that would change.
        "tables": [t for t in tables if t["rows"]],
    }


def _filed(request: DsarRequest) -> list[tuple[str, str]]:
    return [
        (k, v) for k, v in (("identity_id", request.identity_id), ("user_id", request.user_id)) if v
    ]


def _rows_holding(ids: tuple[str, ...]) -> int:
    targets = (*dsar_job.targets(), PORTAL)
    return sum(t["rows"] for target in targets for t in _scan_target(target, ids))


def _scan_target(target: str, ids: tuple[str, ...]) -> list[dict]:
    if target == PORTAL:
        return _scan_portal(ids)
    return _scan_lake(ids) if target == dsar_job.LAKE else _scan_remote(target, ids)


# The portal's own records of a subject: a person known only by their consent is not unknown.
PORTAL = "portal"


def _scan_portal(ids: tuple[str, ...]) -> list[dict]:
    counts = {
        "consent_state": ConsentState.objects.filter(identity_id__in=ids).count(),
        "consent_changes": ConsentChange.objects.filter(identity_id__in=ids).count(),
        "dead_letter_samples": len(dead_letter_samples_naming(ids=ids)),
    }
    return [{"table": name, "files": None, "rows": rows} for name, rows in counts.items()]


def _scan_lake(ids: tuple[str, ...]) -> list[dict]:
    """Rows and files of each table holding the ids in an id column (the rows the job changes;
    their payloads with them). Id columns only: the free text is most of a scan's cost."""
    root = Path(settings.LAKE_ROOT)
    con = erasure.connect(settings.DUCKDB_THREADS)
    try:
        found = []
        for table in erasure.erasable_tables():
            hits = erasure.scan(con, root, table, ids, text=False)
            found.append(
                {
                    "table": table.name,
                    "files": len(hits),
                    "rows": sum(h.matching for h in hits),
                }
            )
        return found
    finally:
        con.close()


def _scan_remote(engine: str, ids: tuple[str, ...]) -> list[dict]:
    found = []
    with get_remote_engine(engine).write_session() as session:
        schema = session.schema
        present = session.table_names()
        for table in erasure.erasable_tables():
            rows = 0
            if table.name in present:
                rows = session.count(erasure_sql.count_statement(table, engine, schema, ids))
            found.append({"table": table.name, "files": None, "rows": rows})
    return found
