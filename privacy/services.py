"""Writes of the privacy app: DSAR requests, retention and payload checks.

The DSAR erasure job itself is in privacy.dsar_job; consent is in privacy.consent."""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.roles import Capability, may
from privacy import payload_check, selectors
from privacy.consent import consent_import_lake, consent_set  # noqa: F401 (their old home)
from privacy.models import (
    AuditEvent,
    DsarRequest,
    PayloadScan,
    subject_validators,
)
from privacy.tombstone import id_hash
from warehouse import watermark
from warehouse.engines.base import WarehouseError
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import contract, retention, retention_sql, storage
from warehouse.lake.storage import bump_watermark


class DsarRefused(Exception):
    """The request cannot take this step (who asks, or the state it is in)."""


class SelfApproval(DsarRefused):
    pass


class ExportExpired(DsarRefused):
    """The access export was deleted at its expiry."""


def audit_log(
    *,
    action: str,
    actor: str,
    request: DsarRequest | None = None,
    detail: Mapping | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        request=request,
        subject_hash=request.subject_hash if request else "",
        detail=dict(detail or {}),
    )


# --- DSAR requests


@transaction.atomic
def dsar_file(
    *,
    kind: str = DsarRequest.Kind.ERASURE,
    identity_id: str = "",
    user_id: str = "",
    reason: str,
    requester,
    enqueue: bool = True,
) -> DsarRequest:
    """File an erasure or access request; due in PRIVACY_DSAR_DUE_DAYS days. Its preview (the
    rows it would erase or export, privacy.dsar_preview) is scanned by a job once it is filed
    (``enqueue``)."""
    identity_id, user_id, reason = identity_id.strip(), user_id.strip(), reason.strip()
    if kind not in DsarRequest.Kind.values:
        raise ValidationError({"kind": [f"Choose one of {', '.join(DsarRequest.Kind.values)}."]})
    if not identity_id and not user_id:
        raise ValidationError({"identity_id": ["Give an identity_id, a user_id or both."]})
    for field, value in (("identity_id", identity_id), ("user_id", user_id)):
        if value:
            try:
                subject_validators[field](value)
            except ValidationError as err:
                raise ValidationError({field: err.messages}) from None
    if not reason:
        raise ValidationError({"reason": ["Say what the subject asked for and how."]})
    if not may(requester, Capability.PRIVACY):
        raise DsarRefused("Only the privacy team files data subject requests.")
    key = settings.PRIVACY_HASH_KEY
    request = DsarRequest.objects.create(
        kind=kind,
        identity_id=identity_id,
        user_id=user_id,
        identity_hash=id_hash(key, identity_id) if identity_id else "",
        user_hash=id_hash(key, user_id) if user_id else "",
        reason=reason,
        requester=requester,
        due_date=timezone.now().date() + timedelta(days=settings.PRIVACY_DSAR_DUE_DAYS),
    )
    audit_log(
        action=AuditEvent.Action.DSAR_FILED,
        actor=requester.get_username(),
        request=request,
        detail={
            "kind": kind,
            "due_date": request.due_date.isoformat(),
            "ids": [k for k, v in (("identity_id", identity_id), ("user_id", user_id)) if v],
        },
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue_preview(request.pk))
    return request


def dsar_preview_queue(*, request_id: int) -> DsarRequest:
    """Scan again what the erasure of a filed request would change (the data moved on, or the
    first scan failed)."""
    request = DsarRequest.objects.get(pk=request_id)
    if request.status != DsarRequest.Status.FILED:
        raise DsarRefused(f"Request {request.pk} is {request.status}: its preview is final.")
    transaction.on_commit(lambda: _enqueue_preview(request.pk))
    return request


def _enqueue_preview(request_id: int) -> None:
    from privacy.tasks import dsar_preview  # tasks import this module (see _enqueue)

    dsar_preview.delay(request_id)


@transaction.atomic
def dsar_approve(*, request_id: int, approver) -> DsarRequest:
    request = DsarRequest.objects.select_for_update().get(pk=request_id)
    if not may(approver, Capability.PRIVACY):
        raise DsarRefused("Only the privacy team approves data subject requests.")
    if request.requester_id == approver.pk:
        raise SelfApproval("A request must be approved by someone other than its requester.")
    if request.status != DsarRequest.Status.FILED:
        raise DsarRefused(f"Request {request.pk} is {request.status}, not awaiting approval.")
    if not request.preview or request.preview.get("error"):
        # The approver decides on what will change: no preview, no approval.
        raise DsarRefused(
            f"Request {request.pk} has no preview yet of what its erasure would change; "
            "approve it once the scan has shown it (scan again if it failed)."
        )
    if not request.is_verified:
        raise DsarRefused(
            f"Request {request.pk}: record how the subject's identity was verified before "
            "approving it."
        )
    request.status = DsarRequest.Status.APPROVED
    request.approved_by = approver
    request.approved_at = timezone.now()
    request.save(update_fields=["status", "approved_by", "approved_at"])
    audit_log(
        action=AuditEvent.Action.DSAR_APPROVED, actor=approver.get_username(), request=request
    )
    return request


@transaction.atomic
def dsar_verify(*, request_id: int, method: str, note: str = "", actor) -> DsarRequest:
    """Record how the subject proved who they are (method, who, when): approval waits for it."""
    request = _open_request(request_id, actor, steps="verifies identities")
    if method not in DsarRequest.VerificationMethod.values:
        choices = ", ".join(DsarRequest.VerificationMethod.values)
        raise ValidationError({"method": [f"Choose one of {choices}."]})
    if request.status != DsarRequest.Status.FILED:
        raise DsarRefused(f"Request {request.pk} is {request.status}: verify before approval.")
    note = note.strip()
    if method == DsarRequest.VerificationMethod.AUTHORISED_AGENT and not note:
        raise ValidationError({"note": ["Say who the agent is and what mandate was checked."]})
    request.verification_method = method
    request.verification_note = note
    request.verified_by = actor
    request.verified_at = timezone.now()
    request.save(
        update_fields=["verification_method", "verification_note", "verified_by", "verified_at"]
    )
    audit_log(
        action=AuditEvent.Action.DSAR_IDENTITY_VERIFIED,
        actor=actor.get_username(),
        request=request,
        detail={"method": method, "note": request.scrub(note)},
    )
    return request


@transaction.atomic
def dsar_extend(*, request_id: int, days: int, reason: str, actor) -> DsarRequest:
    """Move the due date by ``days`` (in all at most PRIVACY_DSAR_MAX_EXTENSION_DAYS), with the
    reason the subject is told."""
    request = _open_request(request_id, actor, steps="extends deadlines")
    room = settings.PRIVACY_DSAR_MAX_EXTENSION_DAYS - request.extended_days
    if not 1 <= days <= room:
        raise ValidationError(
            {
                "days": [
                    f"Extend by 1 to {room} days (at most "
                    f"{settings.PRIVACY_DSAR_MAX_EXTENSION_DAYS} in all)."
                ]
            }
            if room
            else {"days": ["The deadline has been extended as far as it may be."]}
        )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["Say why more time is needed."]})
    was = request.due_date
    request.due_date = was + timedelta(days=days)
    request.extended_days += days
    request.extension_reason = "\n".join(filter(None, [request.extension_reason, reason]))
    request.save(update_fields=["due_date", "extended_days", "extension_reason"])
    audit_log(
        action=AuditEvent.Action.DSAR_EXTENDED,
        actor=actor.get_username(),
        request=request,
        detail={
            "days": days,
            "was_due": was.isoformat(),
            "due_date": request.due_date.isoformat(),
            "reason": request.scrub(reason),
        },
    )
    return request


@transaction.atomic
def dsar_close(*, request_id: int, status: str, reason: str, actor) -> DsarRequest:
    """Reject (the identity could not be verified, the request is unfounded) or cancel (the
    subject withdrew it) a request that has not run: nothing will be erased or exported."""
    closing = {
        DsarRequest.Status.REJECTED: AuditEvent.Action.DSAR_REJECTED,
        DsarRequest.Status.CANCELLED: AuditEvent.Action.DSAR_CANCELLED,
    }
    if status not in closing:
        raise ValidationError({"status": ["Close as rejected or cancelled."]})
    request = _open_request(request_id, actor, steps="closes requests")
    if request.status not in (DsarRequest.Status.FILED, DsarRequest.Status.APPROVED):
        raise DsarRefused(
            f"Request {request.pk} is {request.status}: only a request that has not run "
            "can be rejected or cancelled."
        )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["Say why, for the subject and the audit log."]})
    request.status = status
    request.close_reason = reason
    request.closed_by = actor
    request.finished_at = timezone.now()
    request.forget_ids("[id]")  # nothing will run for it: its ids are not needed any more
    request.save()
    audit_log(
        action=closing[status],
        actor=actor.get_username(),
        request=request,
        detail={"reason": request.close_reason},
    )
    return request


def _open_request(request_id: int, actor, *, steps: str) -> DsarRequest:
    """The request, locked, when ``actor`` may take a step on it and it is not closed."""
    if not may(actor, Capability.PRIVACY):
        raise DsarRefused(f"Only the privacy team {steps}.")
    request = DsarRequest.objects.select_for_update().get(pk=request_id)
    if request.is_closed:
        raise DsarRefused(f"Request {request.pk} is {request.status}: it is closed.")
    return request


def dsar_export_download(*, request_id: int, actor) -> BinaryIO:
    """An access request's export, opened, for a privacy-team member; audited."""
    if not may(actor, Capability.PRIVACY):
        raise DsarRefused("Only the privacy team downloads access exports.")
    request = DsarRequest.objects.get(pk=request_id)
    if request.kind != DsarRequest.Kind.ACCESS or request.status != DsarRequest.Status.COMPLETED:
        raise DsarRefused(f"Request {request.pk} has no export.")
    expired = ExportExpired(
        f"The export of request {request.pk} expired on "
        f"{request.export_expires_at:%Y-%m-%d %H:%M} UTC and is deleted; "
        "file a new access request."
    )
    if not request.has_export:
        raise expired
    try:
        # Opened before the download is audited: the sweeper may have deleted it meanwhile.
        export = open(Path(settings.PRIVACY_EXPORT_DIR) / request.export_file, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise expired from None
    audit_log(
        action=AuditEvent.Action.DSAR_EXPORT_DOWNLOADED,
        actor=actor.get_username(),
        request=request,
        detail={"sha256": request.export_sha256},
    )
    return export


def dsar_exports_expire(*, actor: str) -> int:
    """Delete the access exports past their expiry (the periodic sweeper's work, audited), and
    any zip in PRIVACY_EXPORT_DIR no live export names (a job killed while writing it, or one
    that failed after): they hold personal data too. Returns the exports expired."""
    expired = DsarRequest.objects.exclude(export_file="").filter(
        export_expires_at__lte=timezone.now()
    )
    directory = Path(settings.PRIVACY_EXPORT_DIR)
    for request in expired:
        (directory / request.export_file).unlink(missing_ok=True)
        with transaction.atomic():
            DsarRequest.objects.filter(pk=request.pk).update(export_file="")
            audit_log(
                action=AuditEvent.Action.DSAR_EXPORT_EXPIRED,
                actor=actor,
                request=request,
                detail={"expired_at": request.export_expires_at.isoformat()},
            )
    if directory.is_dir():
        live = set(
            DsarRequest.objects.exclude(export_file="").values_list("export_file", flat=True)
        )
        # A running job's zip (temporary, or renamed but not recorded yet) is younger than the
        # stale limit: left alone.
        stale_s = settings.PRIVACY_DSAR_STALE_SECONDS
        storage.remove_stale_tmp_files(directory, older_than_s=stale_s)
        cutoff = time.time() - stale_s
        for orphan in directory.glob("dsar-*.zip"):
            if orphan.name not in live and orphan.stat().st_mtime < cutoff:
                orphan.unlink(missing_ok=True)
    return len(expired)


@transaction.atomic
def dsar_queue(*, request_id: int, enqueue: bool = True, strict: bool = False) -> DsarRequest:
    """Queue the erasure job of an approved request (again, after a failure or a dead worker).

    Completed requests and runs alive elsewhere are left as they are. ``strict`` (the page and
    the API) refuses them instead, and a request queued recently too, so that the person asking
    is told nothing was queued."""
    request = DsarRequest.objects.select_for_update().get(pk=request_id)
    status = DsarRequest.Status
    if request.status == status.FILED:
        raise DsarRefused(f"Request {request.pk} has not been approved yet.")
    if request.status in (status.REJECTED, status.CANCELLED):
        raise DsarRefused(f"Request {request.pk} is {request.status}: nothing runs for it.")
    if request.status == status.UNKNOWN_SUBJECT:
        raise DsarRefused(
            f"Request {request.pk} is closed: no id column holds its ids, "
            "there is nothing to erase."
        )
    if request.status == status.COMPLETED:
        if strict:
            raise DsarRefused(
                f"Request {request.pk} is completed: its ids are erased and verified; "
                "there is nothing left to run."
            )
        return request
    if request.status == status.QUEUED and strict and not selectors.dsar_is_stale(request):
        raise DsarRefused(
            f"Request {request.pk} is already queued; it starts when a worker is free. If none "
            f"takes it within {settings.PRIVACY_DSAR_STALE_SECONDS} s, it can be queued again."
        )
    if request.status == status.RUNNING and not selectors.dsar_is_stale(request):
        if strict:
            raise DsarRefused(
                f"Request {request.pk} is already running. It can be run again only if its job "
                f"stops reporting for {settings.PRIVACY_DSAR_STALE_SECONDS} s."
            )
        return request
    # Queued long ago and still not taken: its message was probably lost, so another is sent.
    # Should both arrive, the second finds the request claimed (dsar_job._claim) and does nothing.
    request.status = status.QUEUED
    request.error = ""
    request.heartbeat_at = timezone.now()  # when it was queued, until a job claims it
    request.save(update_fields=["status", "error", "heartbeat_at"])
    if enqueue:
        transaction.on_commit(lambda: _enqueue(request.pk))
    return request


def dsar_requeue_stale(*, actor: str) -> list[DsarRequest]:
    """Queue again every request whose job stopped beating (its worker died) or that no worker
    took (its message was lost) for PRIVACY_DSAR_STALE_SECONDS: the periodic sweeper's work, so
    nobody has to press Run again. Each is audited."""
    status = DsarRequest.Status
    stale = timezone.now() - timedelta(seconds=settings.PRIVACY_DSAR_STALE_SECONDS)
    candidates = DsarRequest.objects.filter(
        status__in=(status.QUEUED, status.RUNNING), heartbeat_at__lt=stale
    ).values_list("pk", "status", "heartbeat_at")
    requeued = []
    for pk, was, beat in candidates:
        with transaction.atomic():
            request = dsar_queue(request_id=pk)
            if request.status != status.QUEUED or request.heartbeat_at == beat:
                continue  # completed or claimed meanwhile
            audit_log(
                action=AuditEvent.Action.DSAR_REQUEUED,
                actor=actor,
                request=request,
                detail={
                    "was": was,
                    "silent_s": round((request.heartbeat_at - beat).total_seconds()),
                },
            )
        requeued.append(request)
    return requeued


def _enqueue(request_id: int) -> None:
    # Here, not at the top: privacy.tasks imports this module (a task calls one service).
    from privacy.tasks import dsar_run

    dsar_run.delay(request_id)


# --- retention


@dataclass(frozen=True)
class RetentionResult:
    """What a retention run dropped (or would drop): lake partitions, remote warehouse rows."""

    partitions: list[retention.ExpiredPartition]
    remote: list[retention_sql.ExpiredRows]


class RetentionRemoteFailed(Exception):
    """The lake's part of a retention run is done (``partitions``: dropped, or would be); the
    remote warehouse's failed (the WarehouseError is the cause)."""

    def __init__(
        self, *, engine: str, partitions: list[retention.ExpiredPartition], error: WarehouseError
    ) -> None:
        # One line: a driver's message may span several.
        super().__init__(
            f"retention on the {engine} warehouse failed: {' '.join(str(error).split())}"
        )
        self.engine = engine
        self.partitions = partitions


def retention_apply(
    *, actor: str, dry_run: bool = False, today: date | None = None
) -> RetentionResult:
    """Drop the lake partitions past their retention and, when the warehouse is remote, delete
    its rows past their retention (or only list them, ``dry_run``).

    Each deletion is audited before it happens, so none goes unrecorded. The lake goes first:
    a warehouse that cannot be reached does not hold up the lake's retention, and the error
    (RetentionRemoteFailed) tells what the lake's part did."""
    day = today or timezone.now().date()
    partitions = selectors.retention_expired(today=day)
    if not dry_run:
        _retention_drop_partitions(actor=actor, expired=partitions)
    try:
        rows = selectors.retention_expired_remote(today=day)
        if not dry_run:
            _retention_delete_rows(actor=actor, expired=rows, today=day)
    except WarehouseError as err:
        raise RetentionRemoteFailed(
            engine=settings.WAREHOUSE, partitions=partitions, error=err
        ) from err
    return RetentionResult(partitions=partitions, remote=rows)


def _retention_drop_partitions(*, actor: str, expired: list[retention.ExpiredPartition]) -> None:
    if not expired:
        return
    root = settings.LAKE_ROOT
    retention.remove_stale_trash(root)
    for partition in expired:
        audit_log(
            action=AuditEvent.Action.RETENTION_DROPPED,
            actor=actor,
            detail={
                "table": partition.table,
                "layer": partition.layer,
                "partition": partition.partition.isoformat(),
                "files": partition.files,
                "bytes": partition.bytes,
                "retention_months": partition.months,
                "cutoff": partition.cutoff.isoformat(),
            },
        )
        retention.drop_partition(root, partition)
    # Cached results computed with the dropped rows must not be served any more.
    bump_watermark(root, tables={partition.table for partition in expired})


def _retention_delete_rows(
    *, actor: str, expired: list[retention_sql.ExpiredRows], today: date
) -> None:
    """One DELETE per table, in autocommit: a run stopped half-way is finished by the next."""
    if not expired:
        return
    engine = expired[0].engine
    deleted = 0
    try:
        with get_remote_engine(engine).write_session() as session:
            for item in expired:
                table = contract.table(item.table)
                delete = retention_sql.delete_statement(table, engine, session.schema, item.cutoff)
                audit_log(
                    action=AuditEvent.Action.RETENTION_DELETED,
                    actor=actor,
                    detail={
                        "engine": engine,
                        "table": item.table,
                        "layer": item.layer,
                        "rows": item.rows,
                        "retention_months": item.months,
                        "cutoff": item.cutoff.isoformat(),
                        "statement": delete.sql,
                        "physical_followup": list(item.followup),
                    },
                )
                session.execute(delete)
                deleted += 1
    finally:
        # Cached results computed with the deleted rows must not be served any more.
        if deleted:
            tables = {item.table for item in expired}
            watermark.remote_changed(engine, f"retention-{today.isoformat()}", tables=tables)


# --- payload check


def payload_scan_run(*, start: date, end: date) -> PayloadScan:
    """Check the payloads of raw_events against the schemas and the PII allowlist
    (privacy.payload_check) and keep the violations."""
    check = payload_check.payload_check_run(start=start, end=end)
    return PayloadScan.objects.create(
        start=start, end=end, run_id=check.run_id, violations=check.violations
    )
