"""The canonical SQL behind the finance and support pages, and how a page runs it.

Each page query reads a restricted view (never a restricted table), runs through the warehouse
layer as a recorded query run for the requesting user's scope, and is cached under that scope.
"""

from typing import Any

from django.conf import settings

from portal.roles import data_scope
from warehouse import services as warehouse
from warehouse.services import Answer

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


def page_query(*, user, sql: str, params: dict[str, Any], label: str) -> Answer:
    """Run ``sql`` for ``user`` through the warehouse (cache, in-flight run or a new run),
    waiting at most QUERY_WAIT_SECONDS for the answer. A failure names
    only the run: the engine's message may quote restricted data.

    Raises DataAccessDenied when the user's scope does not cover what the SQL reads."""
    try:
        submission = warehouse.query_submit(
            sql=sql, params=params, scope=data_scope(user), user=user, label=label
        )
    except warehouse.RunLimitReached as err:
        return Answer(error=str(err))
    answer = warehouse.query_answer(submission=submission, wait_s=settings.QUERY_WAIT_SECONDS)
    if answer.failed:
        return Answer(run=answer.run, error=f"The query failed (query run {answer.run_id}).")
    return answer
