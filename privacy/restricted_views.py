"""The finance and support pages: restricted data, read only through the roles' views."""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.permissions import capability_required
from portal.roles import Capability
from portal.throttles import query_throttled
from privacy.forms import FinanceFilterForm, SupportFilterForm
from privacy.lake_queries import (
    FINANCE_CASES_SQL,
    FINANCE_SUMMARY_SQL,
    SUPPORT_DMCA_SQL,
    SUPPORT_SUMMARY_SQL,
    SUPPORT_TICKETS_SQL,
    page_query,
)
from warehouse.sql import params_used

# Rows shown on a page; the CSV export has them all.
PAGE_ROWS = 500


def _csv(data, name: str) -> HttpResponse:
    if data.frame is None:
        message = data.error or "The query did not finish in time; try again."
        return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Query-Run"] = str(data.run_id)
    data.frame.to_csv(response, index=False)
    return response


@require_GET
@capability_required(Capability.FINANCE_VIEWS)
@query_throttled
def finance(request):
    """Refunds, disputes and chargebacks with amounts and outcomes; CSV with ?format=csv."""
    form = FinanceFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "finance/cases.html", {"form": form}, status=400)
    params = form.params()
    wants_csv = request.GET.get("format") == "csv"
    cases = page_query(
        user=request.user,
        sql=FINANCE_CASES_SQL,
        params=params_used(FINANCE_CASES_SQL, params),
        label="finance: cases",
        wait_s=settings.QUERY_TIME_LIMIT_SECONDS if wants_csv else None,
    )
    if wants_csv:
        return _csv(cases, f"finance_cases_{params['start']}_{params['end']}.csv")
    summary = page_query(
        user=request.user,
        sql=FINANCE_SUMMARY_SQL,
        params=params_used(FINANCE_SUMMARY_SQL, params),
        label="finance: summary",
    )
    context = {
        "form": form,
        "cases": cases,
        "summary": summary,
        "rows": _records(cases),
        "summary_rows": _records(summary),
        "page_rows": PAGE_ROWS,
        "csv_query": _csv_query(request),
    }
    return render(request, "finance/cases.html", context)


@require_GET
@capability_required(Capability.SUPPORT_VIEWS)
@query_throttled
def support(request):
    """Tickets with first response, resolution and SLA breach; DMCA cases. CSV of tickets."""
    form = SupportFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "support/tickets.html", {"form": form}, status=400)
    params = form.params()
    wants_csv = request.GET.get("format") == "csv"
    tickets = page_query(
        user=request.user,
        sql=SUPPORT_TICKETS_SQL,
        params=params_used(SUPPORT_TICKETS_SQL, params),
        label="support: tickets",
        wait_s=settings.QUERY_TIME_LIMIT_SECONDS if wants_csv else None,
    )
    if wants_csv:
        return _csv(tickets, f"support_tickets_{params['start']}_{params['end']}.csv")
    summary = page_query(
        user=request.user,
        sql=SUPPORT_SUMMARY_SQL,
        params=params_used(SUPPORT_SUMMARY_SQL, params),
        label="support: summary",
    )
    dmca = page_query(
        user=request.user,
        sql=SUPPORT_DMCA_SQL,
        params=params_used(SUPPORT_DMCA_SQL, params),
        label="support: dmca",
    )
    context = {
        "form": form,
        "tickets": tickets,
        "summary": summary,
        "dmca": dmca,
        "rows": _records(tickets),
        "summary_rows": _records(summary),
        "dmca_rows": _records(dmca),
        "page_rows": PAGE_ROWS,
        "csv_query": _csv_query(request),
    }
    return render(request, "support/tickets.html", context)


def _records(data) -> list[dict]:
    if data.frame is None:
        return []
    frame = data.frame.head(PAGE_ROWS)
    # NaN/NaT become None so that templates print a dash for a missing value.
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _csv_query(request) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()
