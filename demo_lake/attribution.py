"""Paid touches (the pixel fires only with marketing consent) and last-touch credit for
bookings."""

from typing import Any

import numpy as np
import pyarrow as pa

from demo_lake.arrays import const, latest, take, vocab
from demo_lake.consent import Consent, marketing_consent_at
from demo_lake.marketing import PROMO_CHANNELS
from demo_lake.sessions import Sessions
from demo_lake.timeline import DAY, NEVER
from demo_lake.world import World

Touches = tuple[np.ndarray, np.ndarray, np.ndarray]  # the day's touches: identity, time, promo


def touches(
    w: World, d: int, ss: Sessions, ev: dict[str, Any], ts: np.ndarray, consent: Consent
) -> Touches:
    """Paid visits; the pixel fires only with marketing consent (after the banner, if any)."""
    idn = w.identities
    paid = np.flatnonzero(ss.promo >= 0)
    at = ss.start[paid].copy()
    banner = consent.rows.start + np.flatnonzero((consent.source == 0) & (consent.flag == 0))
    answered = np.full(len(ss.ident), NEVER)
    answered[ev["sess"][banner]] = ts[banner]
    at = np.where(answered[paid] < NEVER, answered[paid], at)
    keep = marketing_consent_at(w, ss.ident[paid], at)
    paid, at = paid[keep], at[keep]
    ident, promo = ss.ident[paid], ss.promo[paid]
    w.sink.add(
        "fact_attribution_touches",
        at // DAY,
        {
            "touch_id": w.ids("tch_", d, len(paid)),
            "identity_id": idn.identity_ids.take(ident),
            "user_id": idn.user_at(ident, at),
            "promo_id": w.promos.ids.take(promo),
            "channel": take(vocab(PROMO_CHANNELS), w.promos.channel[promo]),
            "touch_ts": at,
        },
    )
    return ident, at, promo


def attribute(
    w: World,
    ident: np.ndarray,
    at: np.ndarray,
    booking_ids: pa.Array,
    user: pa.Array,
    amount: np.ndarray,
    day_touches: Touches,
) -> None:
    """Last paid touch within 30 days before the booking gets the credit."""
    idn = w.identities
    t_ident, t_at, t_promo = day_touches
    found, touch = latest(t_ident, t_at, np.arange(len(t_at)), ident, at, w.day0)
    touched_at = np.where(found, t_at[touch] if len(t_at) else 0, idn.last_touch[ident])
    promo = np.where(found, t_promo[touch] if len(t_at) else 0, idn.last_touch_promo[ident])
    hit = np.flatnonzero(at - touched_at <= 30 * DAY)
    w.sink.add(
        "fact_attribution_conversions",
        at[hit] // DAY,
        {
            "booking_id": booking_ids.take(hit),
            "identity_id": idn.identity_ids.take(ident[hit]),
            "user_id": user.take(hit),
            "promo_id": w.promos.ids.take(promo[hit]),
            "channel": take(vocab(PROMO_CHANNELS), w.promos.channel[promo[hit]]),
            "model": const("last_touch", len(hit)),
            "revenue_cents": amount[hit],
            "converted_ts": at[hit],
        },
    )
    # Remember each identity's latest paid touch for the days to come.
    order = np.lexsort((t_at, t_ident))
    last = order[np.r_[t_ident[order][1:] != t_ident[order][:-1], True]] if len(order) else order
    idn.last_touch[t_ident[last]] = t_at[last]
    idn.last_touch_promo[t_ident[last]] = t_promo[last]
