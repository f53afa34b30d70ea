"""The canonical SQL behind the finance and support pages, and how a page runs it.

Each page query reads a restricted view (never a restricted table), runs through the warehouse
layer as a recorded query run for the requesting user's scope, and is cached under that scope.
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.conf import settings

from portal.roles import data_scope
from warehouse import selectors as runs
from warehouse import services as warehouse
from warehouse.models import QueryRun

ANY = "*"  # a filter parameter bound to this keeps every value

FINANCE_CASES_SQL = """
SELECT case_kind, case_id, booking_id, amount_cents, currency, outcome, reason, card_country,
       opened_ts, closed_ts
FROM finance_cases_v
WHERE event_dt BETWEEN :start AND :end
  AND (:kind = '*' OR case_kind = :kind)
  AND (:outcome = '*' OR outcome = :outcome)
  AND (:currency = '*' OR currency = :currency)
ORDER BY opened_ts DESC, case_id
"""

FINANCE_SUMMARY_SQL = """
SELECT case_kind, outcome, coalesce(currency, 'unknown') AS currency, count(*) AS cases,
       sum(amount_cents) AS amount_cents
FROM finance_cases_v
WHERE event_dt BETWEEN :start AND :end
  AND (:kind = '*' OR case_kind = :kind)
  AND (:outcome = '*' OR outcome = :outcome)
  AND (:currency = '*' OR currency = :currency)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""

SUPPORT_TICKETS_SQL = """
SELECT ticket_id, channel, category, priority, created_ts, first_response_ts,
       first_response_minutes, resolved_ts, resolution_minutes, sla_due_ts, sla_breached,
       auto_resolved
FROM support_tickets_v
WHERE event_dt BETWEEN :start AND :end
  AND (:priority = '*' OR priority = :priority)
  AND (:channel = '*' OR channel = :channel)
  AND (:category = '*' OR category = :category)
  AND (NOT :breached_only OR sla_breached)
ORDER BY created_ts DESC, ticket_id
"""

SUPPORT_SUMMARY_SQL = """
SELECT priority, count(*) AS tickets,
       count_if(first_response_ts IS NOT NULL) AS answered,
       count_if(sla_breached) AS breached,
       count_if(resolved_ts IS NULL) AS open,
       avg(first_response_minutes) AS avg_first_response_minutes,
       avg(resolution_minutes) / 60.0 AS avg_resolution_hours
FROM support_tickets_v
WHERE event_dt BETWEEN :start AND :end
  AND (:channel = '*' OR channel = :channel)
  AND (:category = '*' OR category = :category)
GROUP BY priority
ORDER BY priority
"""

SUPPORT_DMCA_SQL = """
SELECT notice_id, listing_id, claimant, received_ts, actioned_ts, action, cycle_hours
FROM support_dmca_notices_v
WHERE event_dt BETWEEN :start AND :end
ORDER BY received_ts DESC, notice_id
"""


@dataclass(frozen=True)
class PageData:
    """A page query's answer: a frame, or why there is none yet."""

    frame: pd.DataFrame | None
    run_id: int | None
    data_as_of: str | None = None
    pending: bool = False
    error: str | None = None


def page_query(
    *, user, sql: str, params: dict[str, Any], label: str, wait_s: float | None = None
) -> PageData:
    """Run ``sql`` for ``user`` through the warehouse (cache, in-flight run or a new run).

    Raises DataAccessDenied when the user's scope does not cover what the SQL reads."""
    try:
        submission = warehouse.query_submit(
            sql=sql, params=params, scope=data_scope(user), user=user, label=label
        )
    except warehouse.RunLimitReached as err:
        return PageData(None, None, error=str(err))
    if (cached := submission.cached) is not None:
        return PageData(cached.frame, cached.run_id, cached.data_as_of)
    wait = settings.QUERY_WAIT_SECONDS if wait_s is None else wait_s
    run = runs.run_wait(run_id=submission.run.pk, timeout_s=wait)
    if (cached := runs.run_result(run)) is not None:
        return PageData(cached.frame, cached.run_id, cached.data_as_of)
    if run.status == QueryRun.Status.FAILED:
        return PageData(None, run.pk, error=f"The query failed (query run {run.pk}).")
    return PageData(None, run.pk, pending=True)
