"""A DSAR access (portability) request's export: every row that holds the subject's ids, across
the lake, the remote warehouse and the portal's own tables, as a zip the privacy team hands over.

The zip holds one JSON file per table (an array of objects, one per row, in the lake's column
order) and ``manifest.json``: what each file is, its rows and SHA-256, the contract's description
of the table and its columns, and when the export expires. Rows are found the way the erasure
finds them (an id column holds a filed or linked id), so an access request shows exactly what an
erasure would change. The zip is written under a temporary name and renamed into place; it is
deleted when it expires (privacy.services.dsar_exports_expire).
"""

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pipeline.selectors import dead_letter_samples_naming
from privacy import dsar_job
from privacy.models import AuditEvent, ConsentChange, ConsentState, DsarRequest
from privacy.services import audit_log
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import erasure, erasure_sql, storage
from warehouse.lake.contract import ID_FORMATS, Table

MANIFEST = "manifest.json"
# Rows per batch read from DuckDB and written out: memory stays flat for a busy subject.
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class ExportedTable:
    source: str  # lake, the remote warehouse's name, or portal
    table: str
    rows: int
    path: str  # inside the zip
    sha256: str
    description: str
    columns: dict[str, str]  # name -> description


def export_path(request_id: int, attempt: int) -> Path:
    """One file per attempt: a job taken over after its heartbeat stopped never writes over
    the zip of the attempt that took it over."""
    return Path(settings.PRIVACY_EXPORT_DIR) / f"dsar-{request_id}-{attempt}-access.zip"


def dsar_export_build(request: DsarRequest) -> DsarRequest:
    """Write the export of a claimed access request, then complete it (the ids are blanked on
    the request as after an erasure: the zip is where they are now, until it expires). A zip
    the request does not end up naming is deleted, whatever stopped it."""
    request = dsar_job.link(request)
    now = timezone.now()
    expires = now + timedelta(hours=settings.PRIVACY_EXPORT_TTL_HOURS)
    final = export_path(request.pk, request.attempts)
    recorded = False
    try:
        with (
            storage.atomic_path(final) as tmp,
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            os.chmod(tmp, 0o600)  # personal data: for the portal's user only
            tables = _write_tables(archive, request.ids)
            archive.writestr(MANIFEST, _manifest(request, tables, now, expires))
        request, recorded = _complete(request, final, _sha256(final), tables, expires)
        return request
    finally:
        if not recorded:
            final.unlink(missing_ok=True)


def _write_tables(archive: zipfile.ZipFile, ids: tuple[str, ...]) -> list[ExportedTable]:
    written = []
    for target in dsar_job.targets():
        if target == dsar_job.LAKE:
            written += _lake_tables(archive, ids)
        else:
            written += _remote_tables(archive, target, ids)
    written += _portal_tables(archive, ids)
    return written


def _lake_tables(archive: zipfile.ZipFile, ids: tuple[str, ...]) -> list[ExportedTable]:
    root = Path(settings.LAKE_ROOT)
    con = erasure.connect(settings.DUCKDB_THREADS)
    try:
        written = []
        for table in erasure.erasable_tables():
            # Id columns only, as the erasure's first scan: which files to read in full.
            hits = erasure.scan(con, root, table, ids, text=False)
            if not hits:
                continue
            reader = erasure.subject_rows(
                con, table, ids, [h.path for h in hits]
            ).fetch_record_batch(BATCH_ROWS)
            rows = (_theirs_only(row, table, ids) for batch in reader for row in batch.to_pylist())
            written.append(_write_json(archive, dsar_job.LAKE, table, rows))
        return written
    finally:
        con.close()


def _remote_tables(
    archive: zipfile.ZipFile, engine: str, ids: tuple[str, ...]
) -> list[ExportedTable]:
    written = []
    with get_remote_engine(engine).write_session() as session:
        present = session.table_names()
        for table in erasure.erasable_tables():
            if table.name not in present:
                continue
            statement = erasure_sql.select_statement(table, engine, session.schema, ids)
            names, batches = session.rows(statement, batch=BATCH_ROWS)
            rows = (
                _theirs_only(dict(zip(names, row, strict=True)), table, ids)
                for batch in batches
                for row in batch
            )
            first = next(rows, None)
            if first is not None:  # a table holding nothing of the subject's gets no file
                written.append(_write_json(archive, engine, table, chain([first], rows)))
    return written


# An id of the lake contract's formats (idn_…, usr_…) anywhere in a text.
_ANY_ID = re.compile("(?:" + "|".join(ID_FORMATS.values()) + ")(?![0-9a-f])")
OTHER = "[another person]"


def _theirs_only(row: dict[str, Any], table: Table, ids: tuple[str, ...]) -> dict[str, Any]:
    """The subject's row with the ids of anyone else in it (a referral's other party, say)
    replaced: an export must not disclose other people's data (GDPR art. 15(4))."""
    for column in table.identity_columns:
        if row[column] is not None and row[column] not in ids:
            row[column] = OTHER
    for column in erasure.text_columns(table):
        if row.get(column):
            row[column] = _others_masked(row[column], ids)
    return row


def _others_masked(text: str, ids: tuple[str, ...]) -> str:
    return _ANY_ID.sub(lambda m: m[0] if m[0] in ids else OTHER, text)


PORTAL_TABLES = {
    "consent_state": "The consent the apps read now, per identity.",
    "consent_changes": "Every change of a consent flag the portal recorded, and on whose word.",
    "dead_letter_samples": "Rejected events the pipeline kept as samples that name the ids.",
}


def _portal_tables(archive: zipfile.ZipFile, ids: tuple[str, ...]) -> list[ExportedTable]:
    # Not the actor: a member of staff's user name is not the subject's data.
    fields = ("identity_id", "flag", "value", "source", "instruction", "evidence", "changed_at")
    found = {
        "consent_state": ConsentState.objects.filter(identity_id__in=ids)
        .order_by("identity_id")
        .values("identity_id", "marketing", "analytics", "personalization", "updated_at"),
        "consent_changes": ConsentChange.objects.filter(identity_id__in=ids)
        .order_by("changed_at", "pk")
        .values(*fields),
        "dead_letter_samples": [
            {**sample, "payload": _others_masked(sample["payload"], ids)}
            for sample in dead_letter_samples_naming(ids=ids)
        ],
    }
    written = []
    for name, rows in found.items():
        rows = list(rows)
        if rows:
            columns = {column: "" for column in rows[0]}
            written.append(_write_rows(archive, "portal", name, PORTAL_TABLES[name], columns, rows))
    return written


def _write_json(
    archive: zipfile.ZipFile, source: str, table: Table, rows: Iterable[dict[str, Any]]
) -> ExportedTable:
    columns = {c.name: c.description for c in table.columns}
    return _write_rows(archive, source, table.name, table.description, columns, rows)


def _write_rows(
    archive: zipfile.ZipFile,
    source: str,
    table: str,
    description: str,
    columns: dict[str, str],
    rows: Iterable[dict[str, Any]],
) -> ExportedTable:
    path = f"{source}/{table}.json"
    digest = hashlib.sha256()
    count = 0
    with archive.open(path, "w") as out:

        def write(data: bytes) -> None:
            digest.update(data)
            out.write(data)

        write(b"[")
        for row in rows:
            # One row at a time: no table is held in memory whole.
            write((b"," if count else b"") + json.dumps(row, default=_json_value).encode())
            count += 1
        write(b"]\n")
    return ExportedTable(source, table, count, path, digest.hexdigest(), description, columns)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not exportable as JSON: {type(value).__name__}")


def _manifest(
    request: DsarRequest, tables: list[ExportedTable], now: datetime, expires: datetime
) -> str:
    return json.dumps(
        {
            "request": request.pk,
            "kind": request.kind,
            "generated_at": now.isoformat(),
            "expires_at": expires.isoformat(),
            "ids": {"filed": len(request.ids) - (request.linked_count or 0)}
            | {"linked": request.linked_count or 0},
            "what": "Every row holding the subject's ids in an id column, per table.",
            "files": [
                {
                    "path": t.path,
                    "source": t.source,
                    "table": t.table,
                    "rows": t.rows,
                    "sha256": t.sha256,
                    "description": t.description,
                    "columns": t.columns,
                }
                for t in tables
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _complete(
    request: DsarRequest,
    final: Path,
    digest: str,
    tables: list[ExportedTable],
    expires: datetime,
) -> tuple[DsarRequest, bool]:
    """The request completed with this export, and True; or, when another attempt took the
    request over meanwhile (this one's heartbeat went stale), the request as it is and False."""
    counts = [{"source": t.source, "table": t.table, "rows": t.rows} for t in tables]
    attempt = request.attempts
    with transaction.atomic():
        request = DsarRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != DsarRequest.Status.RUNNING or request.attempts != attempt:
            return request, False
        request.status = DsarRequest.Status.COMPLETED
        request.finished_at = timezone.now()
        request.export_file = final.name
        request.export_bytes = final.stat().st_size
        request.export_sha256 = digest
        request.export_expires_at = expires
        request.export_tables = counts
        request.rows_changed = None
        request.forget_ids("[id]")
        request.save()
        audit_log(
            action=AuditEvent.Action.DSAR_EXPORTED,
            actor=dsar_job.WORKER,
            request=request,
            detail={
                "tables": len(tables),
                "rows": sum(t.rows for t in tables),
                "bytes": request.export_bytes,
                "sha256": digest,
                "expires_at": expires.isoformat(),
            },
        )
    return request, True
