"""Reads of the privacy app."""

from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from core.engines import REMOTE_ENGINES
from privacy.models import (
    AuditEvent,
    ConsentChange,
    ConsentFlag,
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


def consent_history(*, identity_id: str, limit: int = 500) -> list[ConsentChange]:
    return list(ConsentChange.objects.filter(identity_id=identity_id)[:limit])


def dsar_is_stale(request: DsarRequest) -> bool:
    """A running request whose job stopped reporting (its worker died), or a queued one no
    worker took in that time (its message was lost)."""
    limit = timedelta(seconds=settings.PRIVACY_DSAR_STALE_SECONDS)
    beat = request.heartbeat_at or request.started_at
    return beat is None or timezone.now() - beat > limit


def dsar_list(limit: int = 200) -> QuerySet[DsarRequest]:
    return DsarRequest.objects.select_related("requester", "approved_by")[:limit]


def dsar_detail(*, request_id: int) -> DsarRequest:
    return (
        DsarRequest.objects.select_related("requester", "approved_by")
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
