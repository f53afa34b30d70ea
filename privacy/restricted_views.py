"""The finance and support pages: restricted data, read only through the roles' views."""

from datetime import date

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.html import json_script
from django.views.decorators.http import require_GET

from core import paging
from core.paging import Column, Table
from portal.permissions import capability_required
from portal.roles import Capability
from portal.throttles import query_throttled
from privacy import trends
from privacy.forms import FinanceFilterForm, SupportFilterForm
from privacy.lake_queries import (
    FINANCE_SUMMARY_SQL,
    FINANCE_TREND_SQL,
    SUPPORT_SUMMARY_SQL,
    SUPPORT_TREND_SQL,
    PageQuery,
    finance_cases_sql,
    page_queries,
    page_query,
    support_dmca_sql,
    support_tickets_sql,
)
from warehouse.exports import csv_download, csv_preparing
from warehouse.selectors import run_failed
from warehouse.services import Answer

# The columns of each list; a column sorts by the view's column of that name (``order``).
CASES = Table(
    columns=(
        Column("kind", "Kind", "case_kind"),
        Column("case", "Case", "case_id"),
        Column("booking", "Booking", "booking_id"),
        Column("amount", "Amount", "amount_cents", num=True, desc_first=True),
        Column("currency", "Currency", "currency"),
        Column("outcome", "Outcome", "outcome"),
        Column("reason", "Reason", "reason"),
        Column("card_country", "Card country", "card_country"),
        Column("opened", "Opened", "opened_ts", desc_first=True),
        Column("closed", "Closed", "closed_ts", desc_first=True),
    ),
    default="-opened",
)
TICKETS = Table(
    columns=(
        Column("ticket", "Ticket", "ticket_id"),
        Column("priority", "Priority", "priority"),
        Column("channel", "Channel", "channel"),
        Column("category", "Category", "category"),
        Column("created", "Created", "created_ts", desc_first=True),
        Column(
            "first_response",
            "First response (min)",
            "first_response_minutes",
            num=True,
            desc_first=True,
        ),
        Column("resolution", "Resolution (min)", "resolution_minutes", num=True, desc_first=True),
        Column("sla_due", "SLA due", "sla_due_ts", desc_first=True),
        Column("sla", "SLA", "sla_breached", desc_first=True),
    ),
    default="-created",
)
DMCA = Table(
    columns=(
        Column("notice", "Notice", "notice_id"),
        Column("listing", "Listing", "listing_id"),
        Column("claimant", "Claimant", "claimant"),
        Column("received", "Received", "received_ts", desc_first=True),
        Column("decided", "Decided", "actioned_ts", desc_first=True),
        Column("action", "Action", "action"),
        Column("cycle", "Cycle (h)", "cycle_hours", num=True, desc_first=True),
    ),
    default="-received",
    prefix="dmca_",
)


def _csv(request, *, sql: str, params: dict, label: str, name: str, title: str) -> HttpResponse:
    if (failed := run_failed(request.GET.get("run"), request.user)) is not None:
        data = Answer(run=failed, error=f"The query failed (query run {failed.pk}).")
    else:
        data = page_query(user=request.user, sql=sql, params=params, label=label)
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
    """Refunds, disputes and chargebacks: trend, comparison with the previous period, summary
    and the cases a page at a time; CSV of every matching case with ?format=csv."""
    form = FinanceFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "finance/cases.html", {"form": form}, status=400)
    _show_applied(form)
    params, window = form.params(), _window(form)
    cases = paging.paging(request.GET, CASES)
    if request.GET.get("format") == "csv":
        return _csv(
            request,
            sql=finance_cases_sql(by=cases.column.order, descending=cases.descending, paged=False),
            params=params,
            label="finance: cases",
            name=f"finance_cases_{params['start']}_{params['end']}.csv",
            title="Finance",
        )
    sql = finance_cases_sql(by=cases.column.order, descending=cases.descending, paged=True)
    answers = page_queries(
        user=request.user,
        queries={
            "cases": PageQuery(sql, params | cases.sql_params, "finance: cases"),
            "summary": PageQuery(FINANCE_SUMMARY_SQL, params, "finance: summary"),
            "trend": PageQuery(FINANCE_TREND_SQL, _with_previous(params, window), "finance: trend"),
        },
    )
    rows = _records(answers["cases"])
    context = {
        "form": form,
        "window": window,
        **answers,
        "rows": rows,
        "cases_table": _table_view(request, cases, rows),
        "summary_rows": _records(answers["summary"]),
        "csv_query": _csv_query(request),
    }
    if (trend := answers["trend"]).ready:
        frame = trend.result.frame
        context["headlines"] = trends.finance_headlines(frame, window)
        context["totals"] = trends.finance_totals(frame, window)
        context["figure"] = json_script(trends.finance_figure(frame, window), "trend-figure")
    return render(request, "finance/cases.html", context)


@require_GET
@capability_required(Capability.SUPPORT_VIEWS)
@query_throttled
def support(request):
    """Tickets (trend, comparison, summary by priority, the list a page at a time) and DMCA
    cases; CSV of every matching ticket."""
    form = SupportFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "support/tickets.html", {"form": form}, status=400)
    _show_applied(form)
    params, window = form.params(), _window(form)
    tickets = paging.paging(request.GET, TICKETS)
    if request.GET.get("format") == "csv":
        return _csv(
            request,
            sql=support_tickets_sql(
                by=tickets.column.order, descending=tickets.descending, paged=False
            ),
            params=params,
            label="support: tickets",
            name=f"support_tickets_{params['start']}_{params['end']}.csv",
            title="Support",
        )
    dmca = paging.paging(request.GET, DMCA)
    tickets_sql = support_tickets_sql(
        by=tickets.column.order, descending=tickets.descending, paged=True
    )
    dmca_sql = support_dmca_sql(by=dmca.column.order, descending=dmca.descending)
    answers = page_queries(
        user=request.user,
        queries={
            "tickets": PageQuery(tickets_sql, params | tickets.sql_params, "support: tickets"),
            "summary": PageQuery(SUPPORT_SUMMARY_SQL, params, "support: summary"),
            "trend": PageQuery(SUPPORT_TREND_SQL, _with_previous(params, window), "support: trend"),
            "dmca": PageQuery(dmca_sql, params | dmca.sql_params, "support: dmca"),
        },
    )
    rows, dmca_rows = _records(answers["tickets"]), _records(answers["dmca"])
    summary_rows = _records(answers["summary"])
    context = {
        "form": form,
        "window": window,
        **answers,
        "rows": rows,
        "tickets_table": _table_view(request, tickets, rows),
        "summary_rows": summary_rows,
        "summary_total": _support_summary_total(summary_rows),
        "dmca_rows": dmca_rows,
        "dmca_table": _table_view(request, dmca, dmca_rows),
        "csv_query": _csv_query(request),
    }
    if (trend := answers["trend"]).ready:
        frame = trend.result.frame
        context["headlines"] = trends.support_headlines(frame, window)
        context["totals"] = trends.support_totals(frame, window)
        context["figure"] = json_script(trends.support_figure(frame, window), "trend-figure")
    return render(request, "support/tickets.html", context)


def _show_applied(form) -> None:
    """Put the applied filters (a defaulted window, an upper-cased currency) in the form's data,
    so that its inputs show what the page shows."""
    data = form.data.copy()
    for name, value in form.cleaned_data.items():
        if isinstance(value, date):
            data[name] = value.isoformat()
        elif name == "currency" and value:
            data[name] = value
    form.data = data


def _window(form) -> trends.Window:
    return trends.Window(form.cleaned_data["start"], form.cleaned_data["end"])


def _with_previous(params: dict, window: trends.Window) -> dict:
    return params | {"previous_start": window.previous.start}


def _records(data: Answer) -> list[dict]:
    if data.result is None:
        return []
    frame = data.result.frame
    # NaN/NaT become None so that templates print a dash for a missing value.
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _table_view(request, paged: paging.Paging, rows: list[dict]) -> paging.TableView:
    # Each row carries the count of every matching row. No rows: none match (page 1), or the
    # page starts after the last row, whose count is then unknown.
    if rows:
        total: int | None = int(rows[0]["total_rows"])
    elif paged.page == 1:
        total = 0
    else:
        total = None
    return paging.table_view(request.GET, paged, total=total, shown=len(rows))


def _support_summary_total(rows: list[dict]) -> dict | None:
    """The summary's totals row: counts add up; averages are weighed by what they averaged."""
    if not rows:
        return None
    total = {k: sum(r[k] for r in rows) for k in ("tickets", "answered", "breached", "open")}
    total["avg_first_response_minutes"] = trends.weighted_mean(
        rows, "avg_first_response_minutes", "first_responses"
    )
    total["avg_resolution_hours"] = trends.weighted_mean(
        rows, "avg_resolution_hours", "resolutions"
    )
    return total


def _csv_query(request) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    for name in ("page", DMCA.page_param, DMCA.sort_param):
        query.pop(name, None)
    return query.urlencode()
