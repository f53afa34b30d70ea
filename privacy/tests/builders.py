"""Builders and expectations several privacy test modules share: a busy subject of the lake and
the rows that hold it, DSAR requests in a given state, pandas expectations of the erasure and
of the finance view."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.utils import timezone

from privacy import services
from privacy.dsar_preview import dsar_preview_compute
from privacy.models import DsarRequest
from privacy.tests.conftest import previewed, read_table
from warehouse.lake import contract, erasure


def busy_subject(root) -> tuple[str, str]:
    """An identity with a user id and rows in many files (the independent pick: pandas)."""
    raw = read_table(root, "raw_events")
    users = raw[raw["user_id"].notna()]
    identity = users.groupby("identity_id")["_file"].nunique().sort_values().index[-1]
    return identity, users.loc[users["identity_id"] == identity, "user_id"].iloc[0]


def linked(root, ids) -> set[str]:
    """The ids dim_identities links to ``ids`` in two steps, by pandas."""
    dim = read_table(root, "dim_identities")
    found = set(ids)
    for _ in range(2):
        rows = dim[dim["identity_id"].isin(found) | dim["user_id"].isin(found)]
        found |= set(rows["identity_id"]) | set(rows["user_id"].dropna())
    return found - set(ids)


def holds(frame: pd.DataFrame, table: contract.Table, ids) -> pd.Series:
    """Rows of the subject: an id column holds one of ``ids`` (the rows an erasure changes)."""
    mask = pd.Series(False, index=frame.index)
    for column in table.identity_columns:
        mask |= frame[column].isin(ids)
    return mask


def approved(privacy_users, **ids) -> DsarRequest:
    """Filed, previewed (the scan the approver sees), approved and queued."""
    alice, bob = privacy_users
    dsar = services.dsar_file(**ids, reason="data subject asked", requester=alice, enqueue=False)
    assert dsar_preview_compute(request_id=dsar.pk).status == DsarRequest.Status.FILED
    services.dsar_verify(request_id=dsar.pk, method="account_login", actor=alice)
    services.dsar_approve(request_id=dsar.pk, approver=bob)
    return services.dsar_queue(request_id=dsar.pk, enqueue=False)


def expected_counts(root, ids) -> dict[str, tuple[int, int]]:
    """table -> (rows holding the ids, files holding them), by pandas."""
    counts = {}
    for table in erasure.erasable_tables():
        frame = read_table(root, table.name)
        hit = holds(frame, table, ids)
        counts[table.name] = (int(hit.sum()), frame.loc[hit, "_file"].nunique())
    return counts


def request_in(privacy_users, status: str, heartbeat_age_s: float | None = None) -> DsarRequest:
    """A request filed and approved, then put in ``status`` (as the job would leave it)."""
    requester, approver = privacy_users
    dsar = services.dsar_file(identity_id="idn_00000000a5a7", reason="r", requester=requester)
    previewed(dsar.pk)
    if status != "filed":
        services.dsar_verify(request_id=dsar.pk, method="account_login", actor=requester)
        services.dsar_approve(request_id=dsar.pk, approver=approver)
    beat = None if heartbeat_age_s is None else timezone.now() - timedelta(seconds=heartbeat_age_s)
    DsarRequest.objects.filter(pk=dsar.pk).update(status=status, started_at=beat, heartbeat_at=beat)
    return DsarRequest.objects.get(pk=dsar.pk)


# (status, heartbeat age in seconds) -> (answer, words of its message); stale after 60 s here.
RUN_ANSWERS = [
    (("filed", None), (409, "not been approved")),
    (("approved", None), (202, None)),
    (("queued", 5), (409, "already queued")),
    (("queued", 600), (202, None)),  # no worker took it: its message was lost, another goes
    (("running", 5), (409, "already running")),
    (("running", 600), (202, None)),  # its worker died: taken over
    (("failed", None), (202, None)),
    (("completed", None), (409, "is completed")),
]


def expected_finance_cases(root) -> pd.DataFrame:
    refunds = read_table(root, "fin_refunds")
    disputes = read_table(root, "fin_disputes")
    chargebacks = read_table(root, "fin_chargebacks")
    bookings = read_table(root, "fact_bookings")[["booking_id", "currency"]].drop_duplicates()
    cases = pd.concat(
        [
            pd.DataFrame(
                {
                    "case_kind": "refund",
                    "case_id": refunds["refund_id"],
                    "booking_id": refunds["booking_id"],
                    "amount_cents": refunds["amount_cents"],
                    "outcome": np.where(refunds["refunded_ts"].isna(), "processing", "refunded"),
                    "reason": refunds["reason"],
                    "card_country": None,
                    "opened_ts": refunds["requested_ts"],
                    "closed_ts": refunds["refunded_ts"],
                }
            ),
            pd.DataFrame(
                {
                    "case_kind": "dispute",
                    "case_id": disputes["dispute_id"],
                    "booking_id": disputes["booking_id"],
                    "amount_cents": disputes["amount_cents"],
                    "outcome": disputes["outcome"],
                    "reason": None,
                    "card_country": None,
                    "opened_ts": disputes["opened_ts"],
                    "closed_ts": disputes["closed_ts"],
                }
            ),
            pd.DataFrame(
                {
                    "case_kind": "chargeback",
                    "case_id": chargebacks["chargeback_id"],
                    "booking_id": chargebacks["booking_id"],
                    "amount_cents": chargebacks["amount_cents"],
                    "outcome": chargebacks["outcome"],
                    "reason": None,
                    "card_country": chargebacks["card_country"],
                    "opened_ts": chargebacks["received_ts"],
                    "closed_ts": chargebacks["resolved_ts"],
                }
            ),
        ],
        ignore_index=True,
    )
    return cases.merge(bookings, on="booking_id", how="left")


TODAY = date(2026, 2, 1)  # "today" of the retention tests: the small lake ends on 2026-01-31
