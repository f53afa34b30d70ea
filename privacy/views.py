"""The privacy team's pages: consent look-up, DSAR requests, PII allowlist, retention, audit."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.engines import REMOTE_ENGINES
from core.pii import ALLOWED_PII_KEYS
from portal.permissions import capability_required
from portal.roles import Capability
from portal.throttles import query_throttled
from privacy import selectors, services
from privacy.forms import ConsentChangeForm, DsarFileForm, IdentityLookupForm, PayloadScanForm
from privacy.models import AuditEvent, ConsentChange, DsarRequest
from privacy.tasks import payload_scan
from warehouse.lake import contract

privacy_team = capability_required(Capability.PRIVACY)


@require_GET
@privacy_team
def home(request):
    context = {
        "requests": selectors.dsar_list(limit=5),
        "scan": selectors.payload_scan_latest(),
        "open_requests": DsarRequest.objects.exclude(
            status__in=(DsarRequest.Status.COMPLETED, DsarRequest.Status.UNKNOWN_SUBJECT)
        ).count(),
    }
    return render(request, "privacy/home.html", context)


@require_http_methods(["GET", "POST"])
@privacy_team
def consent(request):
    """Look an identity up: its consent now and its whole history; change a flag."""
    if request.method == "POST":
        change = ConsentChangeForm(request.POST)
        if change.is_valid():
            data = change.cleaned_data
            services.consent_set(
                identity_id=data["identity_id"],
                flags={data["flag"]: data["value"]},
                source=ConsentChange.Source.PRIVACY_TEAM,
                actor=request.user.get_username(),
            )
            messages.success(request, f"{data['flag']} consent recorded.")
            return redirect(f"{request.path}?identity_id={data['identity_id']}")
        lookup = IdentityLookupForm({"identity_id": request.POST.get("identity_id", "")})
    else:
        change = None
        lookup = IdentityLookupForm(request.GET or None)
    context = {"lookup": lookup, "change": change}
    if lookup.is_valid():
        identity_id = lookup.cleaned_data["identity_id"]
        context["consent"] = selectors.consent_get(identity_id=identity_id)
        context["history"] = selectors.consent_history(identity_id=identity_id)
        context["change"] = change or ConsentChangeForm(initial={"identity_id": identity_id})
    status = 400 if change is not None and change.errors else 200
    return render(request, "privacy/consent.html", context, status=status)


@require_http_methods(["GET", "POST"])
@privacy_team
def dsar_list(request):
    form = DsarFileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dsar = services.dsar_file(**form.cleaned_data, requester=request.user)
        except ValidationError as err:
            for field, errors in err.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Request {dsar.pk} filed; another privacy user approves it.")
            return redirect("privacy-dsar-detail", request_id=dsar.pk)
    status = 400 if form.errors else 200
    context = {"form": form, "requests": selectors.dsar_list()}
    return render(request, "privacy/dsar_list.html", context, status=status)


@require_GET
@privacy_team
def dsar_detail(request, request_id: int):
    get_object_or_404(DsarRequest, pk=request_id)
    dsar = selectors.dsar_detail(request_id=request_id)
    context = {
        "dsar": dsar,
        "summary": selectors.dsar_summary(dsar),
        "preview_at": parse_datetime(dsar.preview["computed_at"]) if dsar.preview else None,
        "can_approve": dsar.status == DsarRequest.Status.FILED
        and dsar.requester_id != request.user.pk
        and bool(dsar.preview)
        and not dsar.preview.get("error"),
    }
    return render(request, "privacy/dsar_detail.html", context)


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
