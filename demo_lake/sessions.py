"""Sessions of a day (new identities, returning ones, e-mail clicks, crawlers), where they come
from, and how many events of each kind each has: the funnel."""

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo_lake.arrays import choice, weighted_pick
from demo_lake.config import (
    FUNNEL_RATES,
    NEW_IDENTITIES_PER_DAY,
    PROMO_SESSION_SHARE,
    RETURNING_SESSIONS_PER_DAY,
    SEO_SESSION_SHARE,
)
from demo_lake.marketing import PROMO_CHANNELS
from demo_lake.timeline import DAY, time_of_day
from demo_lake.world import World

SEARCH_SHARE, MORE_SEARCHES = 0.85, 1.5  # people: sessions that search; searches after the first
REFERRERS = ("direct", "organic_search", "email", *PROMO_CHANNELS, "crawler")
_DIRECT, _SEO, _EMAIL, _PROMO, _CRAWLER = 0, 1, 2, 3, 3 + len(PROMO_CHANNELS)


@dataclass
class Sessions:
    ident: np.ndarray
    start: np.ndarray
    first: np.ndarray
    entry: np.ndarray  # index into REFERRERS
    promo: np.ndarray  # promo index, -1 if none
    click: np.ndarray  # index into the day's email clicks, -1 if none
    ids: pa.Array


@dataclass(frozen=True)
class Counts:
    """Events per session of the day, by kind."""

    crawler: np.ndarray
    buyer: np.ndarray  # a user (logged in) and no crawler: may message and book
    page: np.ndarray
    search: np.ndarray
    view: np.ndarray
    favorite: np.ndarray
    message: np.ndarray
    checkout_start: np.ndarray
    checkout_complete: np.ndarray
    pricing: np.ndarray  # the session's first page view is the pricing page


def day_sessions(w: World, rng: np.random.Generator, d: int, day0: int) -> Sessions:
    idn, n_promos = w.identities, len(w.promos.channel)
    lo, hi = idn.day_bounds[d], idn.day_bounds[d + 1]
    new = np.arange(lo, hi)
    n_ret = rng.poisson(RETURNING_SESSIONS_PER_DAY * w.cfg.scale * w.season[d])
    ret = weighted_pick(rng, idn.weight_cum, lo, n_ret)
    clicks, w.clicks = w.clicks.split(day0 + DAY)
    w.day_clicks = clicks
    ident = np.concatenate([new, ret, clicks.ident])
    start = np.concatenate([idn.first_seen[new], day0 + time_of_day(rng, len(ret)), clicks.ts])
    first = np.arange(len(ident)) < len(new)
    click = np.concatenate([np.full(len(new) + len(ret), -1), np.arange(len(clicks.ts))])
    order = np.lexsort((ident, start))
    ident, start, first, click = ident[order], start[order], first[order], click[order]
    n = len(ident)

    entry = np.where(click >= 0, _EMAIL, _DIRECT)
    promo = np.full(n, -1)
    u = rng.random(n)
    organic = (click < 0) & ~idn.is_crawler[ident]
    active = np.flatnonzero(w.promos.active(d))
    if len(active):
        paid = np.flatnonzero(organic & (u < PROMO_SESSION_SHARE))
        promo[paid] = active[choice(rng, w.promos.intensity[active], len(paid))]
        entry[paid] = _PROMO + w.promos.channel[promo[paid]]
    entry[organic & (u >= PROMO_SESSION_SHARE) & (u < PROMO_SESSION_SHARE + SEO_SESSION_SHARE)] = (
        _SEO
    )
    entry[idn.is_crawler[ident]] = _CRAWLER
    w.promo_sessions = np.bincount(promo[promo >= 0], minlength=n_promos)
    return Sessions(ident, start, first, entry, promo, click, w.ids("ses_", d, n))


def bookings_per_day(scale: float) -> float:
    """Bookings an average window day starts with: its sessions (new and returning) times the
    checkout completions a person's session makes on average (the funnel's rates hold over all
    sessions, whoever is eligible)."""
    sessions = (NEW_IDENTITIES_PER_DAY + RETURNING_SESSIONS_PER_DAY) * scale
    searches = SEARCH_SHARE * (1 + MORE_SEARCHES)
    return sessions * searches * math.prod(FUNNEL_RATES.values())


def calibrated(
    target: float, trials: np.ndarray, prop: np.ndarray, eligible: np.ndarray, cap: float
) -> np.ndarray:
    """Per-session success probabilities, proportional to propensity among the eligible, so the
    expected number of successes is ``target`` (the funnel rate holds whoever is eligible)."""
    weight = float((trials * prop * eligible).sum())
    base = target / weight if weight > 0 else 0.0
    return np.where(eligible, np.minimum(base * prop, cap), 0.0)


def funnel_counts(w: World, rng: np.random.Generator, ss: Sessions) -> Counts:
    """How many events of each kind every session of the day has: the funnel."""
    idn, n = w.identities, len(ss.ident)
    crawler = idn.is_crawler[ss.ident]
    buyer = (idn.became_user[ss.ident] <= ss.start) & ~crawler  # must be logged in to deal
    prop = idn.propensity[ss.ident]
    page = rng.poisson(np.where(crawler, 3.0, 1.2))
    search = np.where(
        crawler,
        1 + rng.poisson(3.0, n),
        (rng.random(n) < SEARCH_SHARE) * (1 + rng.poisson(MORE_SEARCHES, n)),
    )
    view = rng.binomial(search, FUNNEL_RATES["view"])
    p_message = calibrated(FUNNEL_RATES["message"] * view.sum(), view, prop, buyer, 0.9)
    message = rng.binomial(view, p_message)
    p_start = calibrated(FUNNEL_RATES["checkout_start"] * message.sum(), message, prop, buyer, 0.95)
    checkout_start = rng.binomial(message, p_start)
    return Counts(
        crawler=crawler,
        buyer=buyer,
        page=page,
        search=search,
        view=view,
        favorite=rng.binomial(view, 0.06) * ~crawler,
        message=message,
        checkout_start=checkout_start,
        checkout_complete=rng.binomial(checkout_start, FUNNEL_RATES["checkout_complete"]),
        pricing=(page > 0) & ~crawler & (rng.random(n) < 0.15),
    )
