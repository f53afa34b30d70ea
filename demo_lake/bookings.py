"""Bookings from checkout completions, and the after-sale tables (refunds, disputes,
chargebacks) consistent with each booking's flags."""

from typing import Any

import numpy as np
import pyarrow as pa

from demo_lake.arrays import choice, const, take, vocab
from demo_lake.attribution import Touches, attribute
from demo_lake.events import Booked
from demo_lake.listings import LISTING_KINDS
from demo_lake.sessions import Sessions
from demo_lake.timeline import DAY, HOUR, lognormal
from demo_lake.world import World

OUTCOMES = pa.array(["won", "lost", "pending"])
REFUND_REASONS = (
    "cancelled_by_client", "cancelled_by_provider", "no_show", "quality_complaint", "other"
)  # fmt: skip
CARD_COUNTRIES = ("DE", "AT", "CH", "NL", "GB", "FR", "US")


def bookings(
    w: World,
    rng: np.random.Generator,
    d: int,
    ss: Sessions,
    ev: dict[str, Any],
    ts: np.ndarray,
    booked: Booked,
    day_touches: Touches,
) -> None:
    """fact_bookings from checkout_complete events, the fin_* after-sale tables consistent
    with its flags, and last-touch attribution."""
    idn, lst, end = w.identities, w.listings, w.end
    rows, booking_ids, amount = booked.rows, booked.ids, booked.amount
    ident, at, listing = ss.ident[ev["sess"][rows]], ts[rows], ev["listing"][rows]
    m = len(at)
    user = idn.user_ids.take(ident)  # only users reach checkout

    refund_at = at + lognormal(rng, 3 * DAY, 1.0, m)
    refunded = (rng.random(m) < 0.06) & (refund_at <= end)
    dispute_at = at + lognormal(rng, 10 * DAY, 0.6, m)
    disputed = (rng.random(m) < 0.015) & (dispute_at <= end)
    chargeback_at = at + lognormal(rng, 25 * DAY, 0.5, m)
    charged_back = (rng.random(m) < 0.006) & (chargeback_at <= end)
    cb_resolved = chargeback_at + lognormal(rng, 30 * DAY, 0.4, m)
    cb_outcome = np.where(cb_resolved <= end, (rng.random(m) < 0.55).astype(int), 2)

    w.sink.add(
        "fact_bookings",
        at // DAY,
        {
            "booking_id": booking_ids,
            "user_id": user,
            "identity_id": idn.identity_ids.take(ident),
            "profile_id": lst.ids.take(listing),
            "listing_kind": take(LISTING_KINDS, lst.is_studio[listing]),
            "booked_ts": at,
            "amount_cents": amount,
            "currency": const("EUR", m),
            "is_refunded": refunded,
            "is_disputed": disputed,
            "has_chargeback": charged_back,
            "chargeback_outcome": take(OUTCOMES, cb_outcome, null=~charged_back),
        },
    )
    r = np.flatnonzero(refunded)
    partial = rng.random(len(r)) < 0.3
    refund_amount = np.where(
        partial, amount[r] * rng.uniform(0.3, 0.8, len(r)) // 100 * 100, amount[r]
    )
    w.sink.add(
        "fin_refunds",
        refund_at[r] // DAY,
        {
            "refund_id": w.ids("rfd_", d, len(r)),
            "booking_id": booking_ids.take(r),
            "user_id": user.take(r),
            "amount_cents": refund_amount.astype(np.int64),
            "reason": take(vocab(REFUND_REASONS), choice(rng, [4, 2, 1.5, 1, 1.5], len(r))),
            "requested_ts": refund_at[r],
            "refunded_ts": refund_at[r] + lognormal(rng, 20 * HOUR, 0.8, len(r)),
        },
    )
    q = np.flatnonzero(disputed)
    closed = dispute_at[q] + lognormal(rng, 12 * DAY, 0.5, len(q))
    w.sink.add(
        "fin_disputes",
        dispute_at[q] // DAY,
        {
            "dispute_id": w.ids("dsp_", d, len(q)),
            "booking_id": booking_ids.take(q),
            "user_id": user.take(q),
            "amount_cents": amount[q],
            "opened_ts": dispute_at[q],
            "closed_ts": closed,
            "outcome": take(OUTCOMES, np.where(closed <= end, rng.random(len(q)) < 0.45, 2)),
        },
    )
    c = np.flatnonzero(charged_back)
    w.sink.add(
        "fin_chargebacks",
        chargeback_at[c] // DAY,
        {
            "chargeback_id": w.ids("chb_", d, len(c)),
            "booking_id": booking_ids.take(c),
            "user_id": user.take(c),
            "amount_cents": amount[c],
            "received_ts": chargeback_at[c],
            "resolved_ts": cb_resolved[c],
            "outcome": take(OUTCOMES, cb_outcome[c]),
            "card_country": take(
                vocab(CARD_COUNTRIES), choice(rng, [60, 10, 8, 7, 5, 5, 5], len(c))
            ),
        },
    )
    attribute(w, ident, at, booking_ids, user, amount, day_touches)
