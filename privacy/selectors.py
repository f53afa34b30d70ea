"""Reads of the privacy app."""

from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from core.engines import REMOTE_ENGINES
from privacy.models import (
    CLOSED_STATUSES,
    AuditEvent,
    ConsentChange,
    ConsentFlag,
    ConsentImport,
    ConsentState,
    DsarRequest,
    DsarTableResult,
    PayloadScan,
)
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import retention, retention_sql


def consent_cache_key(identity_id: str) -> str:
    return f"privacy:consent:{identity_id}"


def consent_payload(state: ConsentState | None, identity_id: str = "") -> dict:
    """What GET /api/consent/<id> answers; an unknown identity has given no consent."""
    if state is None:
        return {
            "identity_id": identity_id,
            "known": False,
            **dict.fromkeys(ConsentFlag.values, False),
            "updated_at": None,
        }
    return {
        "identity_id": state.identity_id,
        "known": True,
        **state.flags(),
        "updated_at": state.updated_at.isoformat(),
    }


def consent_get(*, identity_id: str) -> dict:
    """The consent of an identity: from the cache, or the database (then cached)."""
    key = consent_cache_key(identity_id)
    payload = cache.get(key)
    if payload is None:
        state = ConsentState.objects.filter(identity_id=identity_id).first()
        payload = consent_payload(state, identity_id)
        # add, not set: a change committed meanwhile has already put the newer answer there.
        cache.add(key, payload, timeout=settings.PRIVACY_CONSENT_CACHE_SECONDS)
    return payload


def consent_pixels(*, identity_id: str) -> list[str]:
    """Marketing pixels may fire only with marketing consent; unknown identities get none."""
    consent = consent_get(identity_id=identity_id)
    return list(settings.PRIVACY_MARKETING_PIXELS) if consent["marketing"] else []


def consent_now(*, identity_id: str) -> dict:
    """The consent of an identity from the database, as the API answers it (the console shows
    this, not a cached answer, right after importing the identity's lake history)."""
    state = ConsentState.objects.filter(identity_id=identity_id).first()
    return consent_payload(state, identity_id)


def consent_history(*, identity_id: str, limit: int = 500) -> list[ConsentChange]:
    return list(ConsentChange.objects.filter(identity_id=identity_id)[:limit])


def consent_import_last() -> ConsentImport | None:
    """The latest import of the lake's consent changes (scheduled or manage.py)."""
    return ConsentImport.objects.first()


def dsar_is_stale(request: DsarRequest) -> bool:
    """A running request whose job stopped reporting (its worker died), or a queued one no
    worker took in that time (its message was lost)."""
    limit = timedelta(seconds=settings.PRIVACY_DSAR_STALE_SECONDS)
    beat = request.heartbeat_at or request.started_at
    return beat is None or timezone.now() - beat > limit


DSAR_QUEUES = ("open", "overdue", "closed", "all")


def dsar_list(limit: int = 200, queue: str = "all") -> QuerySet[DsarRequest]:
    """Requests of a queue: open (not closed; soonest due first), overdue (open and past due),
    closed, or all (newest first)."""
    requests = DsarRequest.objects.select_related("requester", "approved_by")
    open_requests = requests.exclude(status__in=CLOSED_STATUSES).order_by("due_date", "pk")
    if queue == "open":
        requests = open_requests
    elif queue == "overdue":
        requests = open_requests.filter(due_date__lt=timezone.now().date())
    elif queue == "closed":
        requests = requests.filter(status__in=CLOSED_STATUSES)
    return requests[:limit]


def dsar_queue_counts() -> dict[str, int]:
    """How many requests each queue of the list holds."""
    open_requests = DsarRequest.objects.exclude(status__in=CLOSED_STATUSES)
    return {
        "open": open_requests.count(),
        "overdue": open_requests.filter(due_date__lt=timezone.now().date()).count(),
        "closed": DsarRequest.objects.filter(status__in=CLOSED_STATUSES).count(),
        "all": DsarRequest.objects.count(),
    }


def dsar_detail(*, request_id: int) -> DsarRequest:
    return (
        DsarRequest.objects.select_related("requester", "approved_by", "verified_by", "closed_by")
        .prefetch_related(
            Prefetch("tables", queryset=DsarTableResult.objects.order_by("target", "table")),
            Prefetch("audit", queryset=AuditEvent.objects.order_by("at", "pk")),
        )
        .get(pk=request_id)
    )


def dsar_summary(request: DsarRequest) -> dict:
    """A request as JSON (API, `manage.py dsar show --json`, the page's live progress)."""
    tables = list(request.tables.all())
    return {
        "id": request.pk,
        "kind": request.kind,
        "status": request.status,
        "identity_hash": request.identity_hash,
        "user_hash": request.user_hash,
        "has_identity_id": bool(request.identity_hash),
        "has_user_id": bool(request.user_hash),
        "reason": request.reason,
        "requester": request.requester.get_username(),
        "approved_by": request.approved_by.get_username() if request.approved_by else None,
        "filed_at": request.filed_at.isoformat(),
        "approved_at": _iso(request.approved_at),
        "due_date": request.due_date.isoformat(),
        "days_left": None if request.is_closed else request.days_left,
        "overdue": request.is_overdue,
        "extended_days": request.extended_days,
        "extension_reason": request.extension_reason,
        "verification": {
            "method": request.verification_method,
            "note": request.verification_note,
            "by": request.verified_by.get_username(),
            "at": request.verified_at.isoformat(),
        }
        if request.verified_at
        else None,
        "closed_by": request.closed_by.get_username() if request.closed_by else None,
        "close_reason": request.close_reason,
        "export": {
            "available": request.has_export,
            "bytes": request.export_bytes,
            "sha256": request.export_sha256,
            "expires_at": _iso(request.export_expires_at),
            "tables": request.export_tables,
        }
        if request.export_sha256
        else None,
        "started_at": _iso(request.started_at),
        "finished_at": _iso(request.finished_at),
        "attempts": request.attempts,
        "linked_ids": request.linked_count,
        # What the erasure would change, scanned after filing (counts only, no raw ids).
        "preview": request.preview,
        "rows_changed": request.rows_changed,
        "files_rewritten": request.files_rewritten,
        "remaining_rows": request.remaining_rows,
        "physical_followup": request.physical_followup,
        "error": request.error or None,
        "tables": [
            {
                "target": t.target,
                "table": t.table,
                "state": t.state,
                "files_total": t.files_total,
                "files_with_ids": t.files_with_ids,
                "files_rewritten": t.files_rewritten,
                "rows_changed": t.rows_changed,
                "remaining_rows": t.remaining_rows,
                "duration_s": round(t.duration_s, 3),
            }
            for t in tables
        ],
        "audit": [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "actor": e.actor,
                "subject_hash": e.subject_hash,
                "detail": e.detail,
            }
            for e in request.audit.all()
        ],
    }


def dsar_certificate(request: DsarRequest) -> dict:
    """What the subject may be sent once the request is closed: what was done, with counts and
    dates, and no id (raw or hashed) nor staff names."""
    audit = {e.action: e for e in request.audit.all()}
    erased = request.kind == DsarRequest.Kind.ERASURE
    done = request.status == DsarRequest.Status.COMPLETED
    tables = (
        [t for t in request.tables.all() if t.rows_changed]
        if erased
        else [t for t in request.export_tables if t["rows"]]
    )
    return {
        "reference": f"DSAR-{request.pk}",
        "kind": request.get_kind_display(),
        "status": request.status,
        "filed_on": request.filed_at.date(),
        "verified_on": request.verified_at.date() if request.verified_at else None,
        "verification": request.get_verification_method_display(),
        "approved_on": request.approved_at.date() if request.approved_at else None,
        "closed_on": request.finished_at.date() if request.finished_at else None,
        "due_date": request.due_date,
        "extended_days": request.extended_days,
        "extension_reason": request.extension_reason,
        "on_time": bool(request.finished_at) and request.finished_at.date() <= request.due_date,
        "close_reason": request.close_reason,
        "erasure": erased and done,
        "access": not erased and done,
        "rows": request.rows_changed if erased else sum(t["rows"] for t in tables),
        "files_rewritten": request.files_rewritten,
        "linked_ids": request.linked_count or 0,
        "tables": [
            {"where": t.target, "table": t.table, "rows": t.rows_changed}
            if erased
            else {"where": t["source"], "table": t["table"], "rows": t["rows"]}
            for t in tables
        ],
        "physical_followup": bool(request.physical_followup),
        "export_sha256": request.export_sha256,
        "export_expires_at": request.export_expires_at,
        "verified_by_rescan": request.status == DsarRequest.Status.COMPLETED
        and AuditEvent.Action.DSAR_VERIFIED in audit,
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def audit_recent(limit: int = 200) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("-at", "-pk")[:limit])


def payload_scan_latest() -> PayloadScan | None:
    return PayloadScan.objects.first()


def retention_policy() -> retention.Policy:
    policy = retention.Policy(
        layer_months=settings.PRIVACY_RETENTION_LAYER_MONTHS,
        table_months=settings.PRIVACY_RETENTION_TABLE_MONTHS,
    )
    if unknown := policy.unknown_tables():
        raise ValidationError({"RETENTION_TABLE_MONTHS": [f"Unknown table {unknown[0]!r}."]})
    return policy


def retention_expired(*, today: date | None = None) -> list[retention.ExpiredPartition]:
    """The lake partitions past their table's retention today (what a run would drop)."""
    day = today or timezone.now().date()
    return retention.expired_partitions(settings.LAKE_ROOT, retention_policy(), day)


def retention_expired_remote(*, today: date | None = None) -> list[retention_sql.ExpiredRows]:
    """The rows past their table's retention today in the remote warehouse (settings.WAREHOUSE),
    by one COUNT per table it holds; none when the warehouse is the embedded lake."""
    engine = settings.WAREHOUSE
    if engine not in REMOTE_ENGINES:
        return []
    rules = retention.cutoffs(retention_policy(), today or timezone.now().date())
    expired = []
    with get_remote_engine(engine).write_session() as session:
        schema = session.schema
        present = session.table_names()
        for rule in rules:
            if rule.table.name not in present:
                continue
            count = retention_sql.count_statement(rule.table, engine, schema, rule.cutoff)
            if rows := session.count(count):
                expired.append(
                    retention_sql.ExpiredRows(
                        engine=engine,
                        table=rule.table.name,
                        layer=rule.table.layer.value,
                        rows=rows,
                        months=rule.months,
                        cutoff=rule.cutoff,
                        followup=tuple(retention_sql.physical_followup(rule.table, engine, schema)),
                    )
                )
    return expired
