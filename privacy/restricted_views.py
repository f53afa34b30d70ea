"""The finance and support pages: restricted data, read only through the roles' views."""

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
from warehouse.exports import csv_download, csv_preparing
from warehouse.selectors import run_failed
from warehouse.services import Answer
from warehouse.sql import params_used

# Rows shown on a page; the CSV export has them all.
PAGE_ROWS = 500


def _csv(request, *, sql: str, params: dict, label: str, name: str, title: str) -> HttpResponse:
    if (failed := run_failed(request.GET.get("run"), request.user)) is not None:
        data = Answer(run=failed, error=f"The query failed (query run {failed.pk}).")
    else:
        data = page_query(user=request.user, sql=sql, params=params_used(sql, params), label=label)
    if data.pending:
        page = request.GET.copy()
        for key in ("format", "run"):
            page.pop(key, None)
        back = f"{request.path}?{page.urlencode()}"
        return csv_preparing(request, answer=data, title=title, back_url=back)
    if data.failed:
        return HttpResponse(data.error, status=503, content_type="text/plain; charset=utf-8")
    return csv_download(data.result, name)


@require_GET
@capability_required(Capability.FINANCE_VIEWS)
@query_throttled
def finance(request):
    """Refunds, disputes and chargebacks with amounts and outcomes; CSV with ?format=csv."""
    form = FinanceFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "finance/cases.html", {"form": form}, status=400)
    params = form.params()
    if request.GET.get("format") == "csv":
        name = f"finance_cases_{params['start']}_{params['end']}.csv"
        return _csv(
            request,
            sql=FINANCE_CASES_SQL,
            params=params,
            label="finance: cases",
            name=name,
            title="Finance",
        )
    cases = page_query(
        user=request.user,
        sql=FINANCE_CASES_SQL,
        params=params_used(FINANCE_CASES_SQL, params),
        label="finance: cases",
    )
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
    if request.GET.get("format") == "csv":
        name = f"support_tickets_{params['start']}_{params['end']}.csv"
        return _csv(
            request,
            sql=SUPPORT_TICKETS_SQL,
            params=params,
            label="support: tickets",
            name=name,
            title="Support",
        )
    tickets = page_query(
        user=request.user,
        sql=SUPPORT_TICKETS_SQL,
        params=params_used(SUPPORT_TICKETS_SQL, params),
        label="support: tickets",
    )
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


def _records(data: Answer) -> list[dict]:
    if data.result is None:
        return []
    frame = data.result.frame.head(PAGE_ROWS)
    # NaN/NaT become None so that templates print a dash for a missing value.
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _csv_query(request) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()
