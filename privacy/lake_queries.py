"""The canonical SQL behind the finance and support pages, and how a page runs it.

Each page query reads a restricted view (never a restricted table), runs through the warehouse
layer as a recorded query run for the requesting user's scope, and is cached under that scope.
"""

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from portal.roles import data_scope
from warehouse import services as warehouse
from warehouse.services import Answer
from warehouse.sql import params_used

ANY = "*"  # a filter parameter bound to this keeps every value

# The lists are sorted and paged in SQL: at the bench lake's scale a 30-day window holds about
# 29,000 tickets, whose cached full result took 1 s to build and 60 ms to read back on every
# page view (360 ms over 90 days), where a page of 50 with its total (count(*) OVER ()) takes
# about 80 ms to compute once and is then a small cache entry. The CSV export runs the same
# SQL without LIMIT. What a list sorts by comes from the column lists here, never the request.

FINANCE_CASE_COLUMNS = (
    "case_kind",
    "case_id",
    "booking_id",
    "amount_cents",
    "currency",
    "outcome",
    "reason",
    "card_country",
    "opened_ts",
    "closed_ts",
)
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

# Per day over the window and as many days just before it (the previous period), in one scan;
# never summed over currencies.
FINANCE_TREND_SQL = """
SELECT event_dt AS day, coalesce(currency, 'unknown') AS currency, count(*) AS cases,
       sum(amount_cents) AS amount_cents
FROM finance_cases_v
WHERE event_dt BETWEEN :previous_start AND :end
  AND (:kind = '*' OR case_kind = :kind)
  AND (:outcome = '*' OR outcome = :outcome)
  AND (:currency = '*' OR currency = :currency)
GROUP BY 1, 2
ORDER BY 1, 2
"""

SUPPORT_TICKET_COLUMNS = (
    "ticket_id",
    "channel",
    "category",
    "priority",
    "created_ts",
    "first_response_ts",
    "first_response_minutes",
    "resolved_ts",
    "resolution_minutes",
    "sla_due_ts",
    "sla_breached",
    "auto_resolved",
)
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

# Every priority, breached or not (the list and the trend follow those two filters too). The
# counts beside the averages weigh them into the average over every priority.
SUPPORT_SUMMARY_SQL = """
SELECT priority, count(*) AS tickets,
       count_if(first_response_ts IS NOT NULL) AS answered,
       count_if(sla_breached) AS breached,
       count_if(resolved_ts IS NULL) AS open,
       avg(first_response_minutes) AS avg_first_response_minutes,
       avg(resolution_minutes) / 60.0 AS avg_resolution_hours,
       count(first_response_minutes) AS first_responses,
       count(resolution_minutes) AS resolutions
FROM support_tickets_v
WHERE event_dt BETWEEN :start AND :end
  AND (:channel = '*' OR channel = :channel)
  AND (:category = '*' OR category = :category)
GROUP BY priority
ORDER BY priority
"""

# As FINANCE_TREND_SQL; sums and counts rather than averages, so that days add up.
SUPPORT_TREND_SQL = """
SELECT event_dt AS day, count(*) AS tickets,
       count_if(first_response_ts IS NOT NULL) AS answered,
       count_if(sla_breached) AS breached,
       count_if(resolved_ts IS NULL) AS open,
       sum(first_response_minutes) AS first_response_minutes,
       count(first_response_minutes) AS first_responses
FROM support_tickets_v
WHERE event_dt BETWEEN :previous_start AND :end
  AND (:priority = '*' OR priority = :priority)
  AND (:channel = '*' OR channel = :channel)
  AND (:category = '*' OR category = :category)
  AND (NOT :breached_only OR sla_breached)
GROUP BY 1
ORDER BY 1
"""

SUPPORT_DMCA_COLUMNS = (
    "notice_id",
    "listing_id",
    "claimant",
    "received_ts",
    "actioned_ts",
    "action",
    "cycle_hours",
)

SUPPORT_DMCA_SQL = """
SELECT notice_id, listing_id, claimant, received_ts, actioned_ts, action, cycle_hours
FROM support_dmca_notices_v
WHERE event_dt BETWEEN :start AND :end
ORDER BY received_ts DESC, notice_id
"""


def _list_sql(
    sql: str, columns: tuple[str, ...], *, by: str, descending: bool, key: str, paged: bool
) -> str:
    """``sql`` ordered by the whitelisted column ``by`` (missing values last either way, then
    the unique ``key``, so that pages never overlap); ``paged``: one page, LIMIT :limit OFFSET
    :offset, with the number of matching rows in ``total_rows``."""
    if by not in columns:
        raise ValueError(f"{by!r} is not a column of this list")
    head = sql[: sql.rindex("ORDER BY")]
    ordered = f"{head}ORDER BY {by} {'DESC' if descending else 'ASC'} NULLS LAST, {key}\n"
    if not paged:
        return ordered
    counted = ordered.replace("SELECT ", "SELECT count(*) OVER () AS total_rows, ", 1)
    return f"{counted}LIMIT :limit OFFSET :offset\n"


def finance_cases_sql(*, by: str, descending: bool, paged: bool) -> str:
    return _list_sql(
        FINANCE_CASES_SQL,
        FINANCE_CASE_COLUMNS,
        by=by,
        descending=descending,
        key="case_id",
        paged=paged,
    )


def support_tickets_sql(*, by: str, descending: bool, paged: bool) -> str:
    return _list_sql(
        SUPPORT_TICKETS_SQL,
        SUPPORT_TICKET_COLUMNS,
        by=by,
        descending=descending,
        key="ticket_id",
        paged=paged,
    )


def support_dmca_sql(*, by: str, descending: bool) -> str:
    return _list_sql(
        SUPPORT_DMCA_SQL,
        SUPPORT_DMCA_COLUMNS,
        by=by,
        descending=descending,
        key="notice_id",
        paged=True,
    )


@dataclass(frozen=True)
class PageQuery:
    sql: str
    params: dict[str, Any]  # may hold more than the SQL uses: only its own are bound
    label: str


def page_query(*, user, sql: str, params: dict[str, Any], label: str) -> Answer:
    """Run ``sql`` for ``user`` through the warehouse (cache, in-flight run or a new run),
    waiting at most QUERY_WAIT_SECONDS for the answer. A failure names
    only the run: the engine's message may quote restricted data.

    Raises DataAccessDenied when the user's scope does not cover what the SQL reads."""
    return page_queries(user=user, queries={"one": PageQuery(sql, params, label)})["one"]


def page_queries(*, user, queries: dict[str, PageQuery]) -> dict[str, Answer]:
    """The answers to every query of a page: all are submitted first, then waited for within
    one QUERY_WAIT_SECONDS, so that a page of four queries never waits four times."""
    submitted: dict[str, warehouse.Submission | Answer] = {}
    for name, query in queries.items():
        try:
            submitted[name] = warehouse.query_submit(
                sql=query.sql,
                params=params_used(query.sql, query.params),
                scope=data_scope(user),
                user=user,
                label=query.label,
            )
        except warehouse.RunLimitReached as err:
            submitted[name] = Answer(error=str(err))
    deadline = time.monotonic() + settings.QUERY_WAIT_SECONDS
    answers = {}
    for name, submission in submitted.items():
        if isinstance(submission, Answer):
            answers[name] = submission
            continue
        wait_s = max(0.0, deadline - time.monotonic())
        answer = warehouse.query_answer(submission=submission, wait_s=wait_s)
        if answer.failed:
            answer = Answer(run=answer.run, error=f"The query failed (query run {answer.run_id}).")
        answers[name] = answer
    return answers
