"""Bookings from checkout completions, the year of bookings before the window, and the
after-sale tables (refunds, disputes, chargebacks) consistent with each booking's flags."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from demo_lake.arrays import choice, const, take, vocab, weighted_pick
from demo_lake.attribution import Touches, attribute
from demo_lake.config import FUNNEL_RATES
from demo_lake.events import Booked
from demo_lake.identities import fade
from demo_lake.listings import LISTING_KINDS, pick_listings
from demo_lake.sessions import Sessions, bookings_per_day, calibrated
from demo_lake.timeline import DAY, HOUR, MINUTE, WEEKDAY, lognormal, time_of_day
from demo_lake.world import World

OUTCOMES = pa.array(["won", "lost", "pending"])
REFUND_REASONS = (
    "cancelled_by_client", "cancelled_by_provider", "no_show", "quality_complaint", "other"
)  # fmt: skip
CARD_COUNTRIES = ("DE", "AT", "CH", "NL", "GB", "FR", "US")


# The window day that ids of the history are made with: above any real one, so they never meet.
HISTORY_ID_DAY = 1 << 18
# Share of the history's bookings followed by another in the same session, minutes later: the
# window's funnel books twice in about one session in twelve that books at all.
BOOKS_TWICE = 0.085


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
    rows = booked.rows
    ident, at, listing = ss.ident[ev["sess"][rows]], ts[rows], ev["listing"][rows]
    user = w.identities.user_ids.take(ident)  # only users reach checkout
    _booked(w, rng, d, ident, at, listing, booked.ids, booked.amount, w.sink.add)
    attribute(w, ident, at, booked.ids, user, booked.amount, day_touches)


def booking_history(w: World, rng: np.random.Generator) -> None:
    """The bookings of the ``history_days`` before the window, with their after-sale (some of
    it falls into the window). Each day follows the window's funnel in expectation: everyone
    seen so far visits as often as their activity, faded with their age on that day, says; the
    message and checkout rates are calibrated over those visits as a window day calibrates them
    over its sessions (propensity, caps and all), so the same people book as often as they
    would in the window. The day's volume is the window's at its start
    (``sessions.bookings_per_day``) times the share of those visits that existed then: it grows
    with the pool of people into the window's. Nothing is attributed: touches start with the
    window."""
    idn, lst = w.identities, w.listings
    days = np.arange(-w.cfg.history_days, 0)
    known = np.searchsorted(idn.first_seen, w.start)  # identities are sorted by first_seen
    visits_at_start = (idn.activity[:known] * fade(w.start - idn.first_seen[:known])).sum()
    per_visit = bookings_per_day(w.cfg.scale) / max(visits_at_start, 1e-9)
    season = WEEKDAY[(w.start // DAY + days + 3) % 7] * rng.lognormal(0, 0.04, len(days))
    parts = []
    for day, busy in zip(days, season, strict=True):
        day0 = w.start + day * DAY
        pull, visits = _booking_pull(w, day0)
        n = rng.poisson(per_visit * visits * busy / (1 + BOOKS_TWICE))
        who = weighted_pick(rng, np.cumsum(pull), len(pull), n)
        at = day0 + time_of_day(rng, len(who))
        twice = np.flatnonzero(rng.random(len(who)) < BOOKS_TWICE)
        later = np.minimum(at[twice] + lognormal(rng, 2 * MINUTE, 1.0, len(twice)), day0 + DAY - 1)
        who, at = np.concatenate([who, who[twice]]), np.concatenate([at, later])
        where = pick_listings(lst, rng, day0, len(who))  # none while no listing is open
        parts.append((who[: len(where)], at[: len(where)], where))
    if not parts:
        return
    ident, at, listing = (np.concatenate(column) for column in zip(*parts, strict=True))
    price = lst.price_cents[listing] * rng.lognormal(0, 0.3, len(at))
    amount = ((price / 100).round() * 100).astype(np.int64)
    ids = w.ids("bkg_", HISTORY_ID_DAY, len(at))
    _booked(w, rng, HISTORY_ID_DAY, ident, at, listing, ids, amount, w.sink.add_reaching_back)


def _booking_pull(w: World, ts: int) -> tuple[np.ndarray, float]:
    """How much each identity seen by ``ts`` books, relative to the others: its expected checkout
    starts by the window's funnel (sessions.funnel_counts, in expectation); and all visits."""
    idn = w.identities
    known = np.searchsorted(idn.first_seen, ts, side="right")
    visits = idn.activity[:known] * fade(ts - idn.first_seen[:known])
    buyer = (idn.became_user[:known] <= ts) & ~idn.is_crawler[:known]
    prop = idn.propensity[:known]
    messages = visits * calibrated(FUNNEL_RATES["message"] * visits.sum(), visits, prop, buyer, 0.9)
    starts = messages * calibrated(
        FUNNEL_RATES["checkout_start"] * messages.sum(), messages, prop, buyer, 0.95
    )
    return starts, float(visits.sum())


def _booked(
    w: World,
    rng: np.random.Generator,
    d: int,
    ident: np.ndarray,
    at: np.ndarray,
    listing: np.ndarray,
    booking_ids: pa.Array,
    amount: np.ndarray,
    add: Callable[[str, np.ndarray, dict[str, Any]], None],
) -> None:
    """fact_bookings rows and the fin_* rows consistent with their flags, through ``add``."""
    idn, lst, end = w.identities, w.listings, w.end
    m = len(at)
    user = idn.user_ids.take(ident)

    refund_at = at + lognormal(rng, 3 * DAY, 1.0, m)
    refunded = (rng.random(m) < 0.06) & (refund_at <= end)
    dispute_at = at + lognormal(rng, 10 * DAY, 0.6, m)
    disputed = (rng.random(m) < 0.015) & (dispute_at <= end)
    chargeback_at = at + lognormal(rng, 25 * DAY, 0.5, m)
    charged_back = (rng.random(m) < 0.006) & (chargeback_at <= end)
    cb_resolved = chargeback_at + lognormal(rng, 30 * DAY, 0.4, m)
    cb_outcome = np.where(cb_resolved <= end, (rng.random(m) < 0.55).astype(int), 2)

    add(
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
    add(
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
    add(
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
    add(
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
