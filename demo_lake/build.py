"""Building the demo lake: the pools up front, then one window day at a time, every domain in a
fixed order (the order is part of the seed's contract: each draws from the day's generator)."""

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np

from demo_lake import (
    attribution,
    bookings,
    consent,
    events,
    exposures,
    listings,
    marketing,
    pipeline,
    safety,
    seo,
    sessions,
    support,
)
from demo_lake.config import LakeConfig, LakeSummary
from demo_lake.identities import build_identities, write_dim_identities
from demo_lake.sink import Sink
from demo_lake.timeline import DAY, EPOCH, WEEKDAY
from demo_lake.world import World
from experiments.surfaces import SURFACES


def generate_lake(
    root: Path, cfg: LakeConfig, progress: Callable[[str], None] | None = None
) -> LakeSummary:
    """Write the whole demo lake under ``root`` (which should be empty)."""
    started = time.monotonic()
    w = _world(cfg, root)
    every = max(1, cfg.days // 10)
    for d in range(cfg.days):
        _run_day(w, d)
        if progress and ((d + 1) % every == 0 or d + 1 == cfg.days):
            raw = w.sink.rows["raw_events"]
            rate = raw / max(time.monotonic() - started, 1e-9)
            day = cfg.start_date + timedelta(days=d)
            progress(f"  {day} (day {d + 1}/{cfg.days}): {raw:,} raw events, {rate:,.0f} events/s")
    # The unpartitioned dimensions, as of the window's end.
    write_dim_identities(w)
    listings.write_dim_listings(w)
    return LakeSummary(
        rows=dict(w.sink.rows),
        raw_events=w.sink.rows["raw_events"],
        seconds=time.monotonic() - started,
    )


def _world(cfg: LakeConfig, root: Path) -> World:
    """The pools, drawn from stream 0, and what is written before the first day (the bookings
    before the window from stream 2)."""
    start = (cfg.start_date - EPOCH).days * DAY
    first_day = start // DAY
    rng = np.random.default_rng([cfg.seed, 0])
    days = np.arange(cfg.days)
    weekday = (first_day + days + 3) % 7  # 1970-01-01 was a Thursday
    trend = 1 + 0.12 * days / max(cfg.days - 1, 1)
    season = WEEKDAY[weekday] * trend * rng.lognormal(0, 0.04, cfg.days)
    lst = listings.build_listings(rng, cfg, start)
    w = World(
        cfg=cfg,
        start=start,
        sink=Sink(root, first_day, first_day + cfg.days - 1, cfg.rows_per_file),
        weekday=weekday,
        season=season,
        listings=lst,
        identities=build_identities(rng, cfg, start, season, lst),
        promos=marketing.build_promos(rng, cfg),
        landings=seo.build_landings(rng, cfg),
        loss_day=(cfg.days * 2) // 3,
        lag_day=cfg.days // 3,
        clicks=marketing.NO_CLICKS,
    )
    consent.consent_history(w, rng)
    marketing.referrals(w, rng)
    # A stream of its own: the window's rows do not depend on how far back bookings reach.
    bookings.booking_history(w, np.random.default_rng([cfg.seed, 2]))
    return w


def _run_day(w: World, d: int) -> None:
    """Generate window day ``d`` and write every partition that is now complete."""
    rng = np.random.default_rng([w.cfg.seed, 1, d])
    w.day0 = day0 = w.start + d * DAY
    marketing.emails(w, rng, d, day0)
    ss = sessions.day_sessions(w, rng, d, day0)
    marketing.promo_spend(w, rng, d)
    _session_events(w, rng, d, ss)
    consent.apply_consent(w)
    listings.supply(w, rng, d, day0)
    support.tickets(w, rng, d, ss)
    safety.notices_and_checks(w, rng, d, day0)
    seo.search_console(w, rng, d)
    w.sink.flush(w.sink.first_day + d)


def _session_events(w: World, rng: np.random.Generator, d: int, ss: sessions.Sessions) -> None:
    """Session events through bronze, silver and gold, plus what they drive: bookings and
    their after-sale, consent changes, marketing touches and experiment exposures."""
    c = sessions.funnel_counts(w, rng, ss)
    b = events.Blocks()
    events.arrival_events(w, b, ss)
    consented = consent.consent_events(w, rng, b, ss, c)
    pricing_pos = events.page_events(w, rng, b, ss, c)
    events.search_events(w, rng, d, b, c)
    view_surface, booked = events.listing_events(w, rng, d, b, c)
    n = len(ss.ident)
    triggers: exposures.Triggers = {
        "search": (c.search > 0, np.full(n, 999.5), SURFACES.index("search_results")),
        "view": (c.view > 0, np.full(n, 1049.5), None),
        "pricing": (c.pricing, pricing_pos - 0.5, SURFACES.index("pricing_page")),
    }
    exposed = exposures.exposure_events(w, d, b, ss, triggers, view_surface)

    ev = b.finish()
    ts = events.timestamps(rng, ev["sess"], ev["pos"], ss.start)
    consent.consent_rows(w, rng, d, ss, ev, ts, consented)
    day_touches = attribution.touches(w, d, ss, ev, ts, consented)
    bookings.bookings(w, rng, d, ss, ev, ts, booked, day_touches)
    exposures.exposure_rows(w, rng, ss, ts, exposed)
    pipeline.land_events(w, rng, d, ss, ev, ts)
