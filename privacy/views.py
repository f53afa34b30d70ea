"""The privacy team's pages: consent look-up, DSAR requests, PII allowlist, retention, audit."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.engines import REMOTE_ENGINES
from core.pii import ALLOWED_PII_KEYS
from portal.permissions import capability_required
from portal.roles import Capability
from portal.throttles import query_throttled
from privacy import consent as consent_service
from privacy import selectors, services
from privacy.consent_lake import ConsentLakeUnavailable
from privacy.forms import (
    ConsentChangeForm,
    DsarCloseForm,
    DsarExtendForm,
    DsarFileForm,
    DsarQueueForm,
    DsarVerifyForm,
    IdentityLookupForm,
    PayloadScanForm,
)
from privacy.models import AuditEvent, ConsentChange, DsarRequest
from privacy.tasks import payload_scan
from warehouse.engines.base import WarehouseError
from warehouse.lake import contract
from warehouse.selectors import without_server_paths
from warehouse.services import QueryFailed

privacy_team = capability_required(Capability.PRIVACY)


@require_GET
@privacy_team
def home(request):
    context = {
        "requests": selectors.dsar_list(limit=5, queue="open"),
        "scan": selectors.payload_scan_latest(),
        "queues": selectors.dsar_queue_counts(),
    }
    return render(request, "privacy/home.html", context)


@require_http_methods(["GET", "POST"])
@privacy_team
def consent(request):
    """Look an identity up: the lake's history of it is imported first, so the page shows what
    the lake holds; then its consent now and every change with where it came from. Record a
    change on the subject's instruction, with its evidence."""
    status = 200
    if request.method == "POST":
        change = ConsentChangeForm(request.POST)
        status = 400  # unless it is recorded (a redirect)
        if change.is_valid():
            data = change.cleaned_data
            try:
                consent_service.consent_set(
                    identity_id=data["identity_id"],
                    flags={data["flag"]: data["value"]},
                    source=ConsentChange.Source.PRIVACY_TEAM,
                    actor=request.user.get_username(),
                    instruction=data["instruction"],
                    evidence=data["evidence"],
                )
            except ValidationError as err:
                for field, errors in err.message_dict.items():
                    change.add_error(field if field in change.fields else None, errors)
            except ConsentLakeUnavailable as err:
                change.add_error(None, f"Not recorded: {err}.")
                status = 503
            else:
                messages.success(request, f"{data['flag']} consent recorded, in the lake too.")
                return redirect(f"{request.path}?identity_id={data['identity_id']}")
        lookup = IdentityLookupForm({"identity_id": request.POST.get("identity_id", "")})
    else:
        change = None
        lookup = IdentityLookupForm(request.GET or None)
    context = {"lookup": lookup, "change": change, "last_import": selectors.consent_import_last()}
    if lookup.is_valid():
        identity_id = lookup.cleaned_data["identity_id"]
        try:
            context["lake_changes"] = consent_service.consent_import_identity(
                identity_id=identity_id
            )
        except (QueryFailed, WarehouseError, OSError) as err:
            context["lake_error"] = without_server_paths(" ".join(str(err).split()))
        context["consent"] = selectors.consent_now(identity_id=identity_id)
        context["history"] = selectors.consent_history(identity_id=identity_id)
        context["change"] = change or ConsentChangeForm(initial={"identity_id": identity_id})
    return render(request, "privacy/consent.html", context, status=status)


@require_http_methods(["GET", "POST"])
@privacy_team
def dsar_list(request):
    """The request queues (open, overdue, closed, all) with their countdowns; file a request."""
    form = DsarFileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dsar = services.dsar_file(**form.cleaned_data, requester=request.user)
        except ValidationError as err:
            for field, errors in err.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"Request {dsar.pk} filed. Record how the subject's identity was verified; "
                "another privacy user approves it.",
            )
            return redirect("privacy-dsar-detail", request_id=dsar.pk)
    queue_form = DsarQueueForm(request.GET)
    queue = (queue_form.is_valid() and queue_form.cleaned_data["queue"]) or "open"
    context = {
        "form": form,
        "queue": queue,
        "counts": selectors.dsar_queue_counts(),
        "requests": selectors.dsar_list(queue=queue),
        "due_days": settings.PRIVACY_DSAR_DUE_DAYS,
    }
    return render(request, "privacy/dsar_list.html", context, status=400 if form.errors else 200)


@require_GET
@privacy_team
def dsar_detail(request, request_id: int):
    get_object_or_404(DsarRequest, pk=request_id)
    dsar = selectors.dsar_detail(request_id=request_id)
    return render(request, "privacy/dsar_detail.html", _detail_context(request, dsar))


def _detail_context(request, dsar: DsarRequest, **forms) -> dict:
    before_run = dsar.status in (DsarRequest.Status.FILED, DsarRequest.Status.APPROVED)
    return {
        "dsar": dsar,
        "summary": selectors.dsar_summary(dsar),
        "preview_at": parse_datetime(dsar.preview["computed_at"]) if dsar.preview else None,
        "can_approve": dsar.status == DsarRequest.Status.FILED
        and dsar.is_verified
        and dsar.requester_id != request.user.pk
        and bool(dsar.preview)
        and not dsar.preview.get("error"),
        "verify_form": forms.get("verify")
        or (DsarVerifyForm() if dsar.status == DsarRequest.Status.FILED else None),
        "extend_form": forms.get("extend") or (None if dsar.is_closed else DsarExtendForm()),
        "close_form": forms.get("close") or (DsarCloseForm() if before_run else None),
    }


@require_POST
@privacy_team
def dsar_verify(request, request_id: int):
    return _dsar_step(
        request,
        request_id,
        "verify",
        DsarVerifyForm,
        lambda data: services.dsar_verify(request_id=request_id, actor=request.user, **data),
        "Identity verification recorded.",
    )


@require_POST
@privacy_team
def dsar_extend(request, request_id: int):
    return _dsar_step(
        request,
        request_id,
        "extend",
        DsarExtendForm,
        lambda data: services.dsar_extend(request_id=request_id, actor=request.user, **data),
        "Due date moved; the reason is in the audit log.",
    )


@require_POST
@privacy_team
def dsar_close(request, request_id: int):
    return _dsar_step(
        request,
        request_id,
        "close",
        DsarCloseForm,
        lambda data: services.dsar_close(request_id=request_id, actor=request.user, **data),
        "Request closed; nothing will run for it.",
    )


def _dsar_step(request, request_id: int, name: str, form_class, step, done: str):
    """A step on the request page: its form validated, the service called; a refused step is
    shown as a message, an invalid form again with its errors (400)."""
    get_object_or_404(DsarRequest, pk=request_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            step(form.cleaned_data)
        except services.DsarRefused as err:
            messages.error(request, str(err))
        except ValidationError as err:
            for field, errors in err.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, done)
    if not form.errors:
        return redirect("privacy-dsar-detail", request_id=request_id)
    dsar = selectors.dsar_detail(request_id=request_id)
    context = _detail_context(request, dsar, **{name: form})
    return render(request, "privacy/dsar_detail.html", context, status=400)


@require_GET
@privacy_team
def dsar_export(request, request_id: int):
    """Download an access request's export (privacy team only, until it expires; audited)."""
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        export = services.dsar_export_download(request_id=request_id, actor=request.user)
    except services.ExportExpired as err:
        return render(request, "privacy/gone.html", {"message": str(err)}, status=410)
    except services.DsarRefused as err:
        raise Http404(str(err)) from None
    return FileResponse(export, as_attachment=True, filename=Path(export.name).name)


@require_GET
@privacy_team
def dsar_certificate(request, request_id: int):
    """What was done, to send to the subject: counts and dates, no ids (``?format=txt``: as
    plain text for an e-mail)."""
    get_object_or_404(DsarRequest, pk=request_id)
    dsar = selectors.dsar_detail(request_id=request_id)
    if not dsar.is_closed:
        raise Http404("A certificate is issued once the request is closed.")
    context = {"c": selectors.dsar_certificate(dsar), "dsar": dsar}
    if request.GET.get("format") == "txt":
        return render(
            request,
            "privacy/dsar_certificate.txt",
            context,
            content_type="text/plain; charset=utf-8",
        )
    return render(request, "privacy/dsar_certificate.html", context)


@require_POST
@privacy_team
def dsar_approve(request, request_id: int):
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        services.dsar_approve(request_id=request_id, approver=request.user)
        messages.success(request, "Approved. Run it when ready.")
    except services.DsarRefused as err:
        messages.error(request, str(err))
    return redirect("privacy-dsar-detail", request_id=request_id)


@require_POST
@privacy_team
def dsar_preview(request, request_id: int):
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        services.dsar_preview_queue(request_id=request_id)
        messages.success(request, "Scanning again what the erasure would change.")
    except services.DsarRefused as err:
        messages.error(request, str(err))
    return redirect("privacy-dsar-detail", request_id=request_id)


@require_POST
@privacy_team
def dsar_run(request, request_id: int):
    get_object_or_404(DsarRequest, pk=request_id)
    try:
        services.dsar_queue(request_id=request_id, strict=True)
        messages.success(request, "The erasure job is queued; progress shows below.")
    except services.DsarRefused as err:
        messages.error(request, str(err))
    return redirect("privacy-dsar-detail", request_id=request_id)


@require_http_methods(["GET", "POST"])
@privacy_team
@query_throttled(methods=("POST",))
def pii(request):
    """The PII allowlist and the latest check of the lake's payload keys against it."""
    form = PayloadScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        transaction.on_commit(lambda: payload_scan.delay(start.isoformat(), end.isoformat()))
        messages.success(request, f"Checking payloads of {start} to {end}; reload in a moment.")
        return redirect("privacy-pii")
    context = {
        "allowed": sorted(ALLOWED_PII_KEYS),
        "scan": selectors.payload_scan_latest(),
        "form": form,
    }
    return render(request, "privacy/pii.html", context, status=400 if form.errors else 200)


@require_GET
@privacy_team
def retention(request):
    """The retention of every partitioned table, what would go today, and what went."""
    policy = selectors.retention_policy()
    tables = [
        (t, policy.months(t), t.name in policy.table_months)
        for t in contract.TABLES.values()
        if t.partition_column
    ]
    context = {
        "tables": tables,
        "expired": selectors.retention_expired(),
        "today": timezone.now().date(),
        "layer_months": settings.PRIVACY_RETENTION_LAYER_MONTHS,
        "drops": AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DROPPED).order_by(
            "-at"
        )[:100],
        "remote": settings.WAREHOUSE if settings.WAREHOUSE in REMOTE_ENGINES else None,
        "deletions": AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETED).order_by(
            "-at"
        )[:100],
    }
    return render(request, "privacy/retention.html", context)


@require_GET
@privacy_team
def audit(request):
    return render(request, "privacy/audit.html", {"events": selectors.audit_recent()})
