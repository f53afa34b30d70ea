"""Session events: arrivals, page views, searches, listing views, favorites, messages and
checkouts, each at a position in its session that orders it; client times follow."""

from collections import defaultdict
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo_lake.arrays import expand, json_objects, take, to_text, vocab
from demo_lake.clients import APP_VERSIONS, PLATFORMS
from demo_lake.config import PII_LEAK_SHARE
from demo_lake.listings import CITIES, LISTING_KINDS, pick_listings
from demo_lake.marketing import EMAIL_KINDS
from demo_lake.seo import QUERY_CLASSES
from demo_lake.sessions import REFERRERS, Counts, Sessions
from demo_lake.timeline import DAY, SEC, lognormal
from demo_lake.world import World
from experiments.surfaces import SURFACES


class E(IntEnum):
    """Event names; the order is the code stored while generating."""

    APP_START = 0
    PAGE_VIEW = 1
    SEARCH = 2
    PROFILE_VIEW = 3
    STUDIO_VIEW = 4
    FAVORITE_ADD = 5
    MESSAGE_SENT = 6
    CHECKOUT_START = 7
    CHECKOUT_COMPLETE = 8
    EMAIL_CLICK = 9
    CONSENT_CHANGE = 10
    EXPERIMENT_EXPOSURE = 11


EVENT_NAMES = (
    "app.start", "page_view", "search", "profile_view", "studio_view", "favorite_add",
    "message_sent", "checkout_start", "checkout_complete", "email_click", "consent_change",
    "experiment_exposure",
)  # fmt: skip
SCHEMA_VERSIONS = np.array([3, 2, 2, 4, 2, 1, 2, 3, 3, 1, 1, 1], dtype=np.int32)
SEARCH_V3_FROM = 0.45  # share of the window after which search payloads gain "filters" (v3)
_SURFACE_OF = {  # where each kind of event happens, unless the event says otherwise
    E.APP_START: "app",
    E.PAGE_VIEW: "landing",
    E.SEARCH: "search_results",
    E.PROFILE_VIEW: "profile_page",
    E.STUDIO_VIEW: "studio_page",
    E.FAVORITE_ADD: "profile_page",
    E.MESSAGE_SENT: "messages",
    E.CHECKOUT_START: "checkout",
    E.CHECKOUT_COMPLETE: "checkout",
    E.EMAIL_CLICK: "email",
    E.CONSENT_CHANGE: "settings",
    E.EXPERIMENT_EXPOSURE: "app",
}
FUNNEL_STEPS = ("search", "profile_view", "message", "checkout_start", "checkout_complete")
_STEP_OF = {
    E.SEARCH: "search",
    E.PROFILE_VIEW: "profile_view",
    E.STUDIO_VIEW: "profile_view",  # the funnel's view step is any listing page
    E.MESSAGE_SENT: "message",
    E.CHECKOUT_START: "checkout_start",
    E.CHECKOUT_COMPLETE: "checkout_complete",
}
STEP_CODES = np.full(len(E), -1, dtype=np.int8)  # funnel step of each event code, -1 if none
for _etype, _step in _STEP_OF.items():
    STEP_CODES[_etype] = FUNNEL_STEPS.index(_step)


class Blocks:
    """Event rows appended one kind at a time; arrays are concatenated once at the end."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = defaultdict(list)
        self.size = 0

    def add(
        self,
        etype: E,
        sess: np.ndarray,
        pos: np.ndarray | float,
        payload: pa.Array,
        surface: np.ndarray | int | None = None,
        listing: np.ndarray | None = None,
        version: np.ndarray | None = None,
    ) -> slice:
        n = len(sess)
        cols = self.columns
        cols["sess"].append(sess)
        cols["etype"].append(np.full(n, etype, dtype=np.int8))
        cols["pos"].append(np.broadcast_to(np.asarray(pos, dtype=np.float64), (n,)))
        cols["payload"].append(payload)
        cols["surface"].append(
            np.broadcast_to(
                np.asarray(SURFACES.index(_SURFACE_OF[etype]) if surface is None else surface),
                (n,),
            )
        )
        cols["listing"].append(np.full(n, -1) if listing is None else listing)
        cols["version"].append(
            np.full(n, SCHEMA_VERSIONS[etype], dtype=np.int32) if version is None else version
        )
        self.size += n
        return slice(self.size - n, self.size)

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: np.concatenate(v) for k, v in self.columns.items() if k != "payload"
        }
        out["payload"] = pa.concat_arrays(self.columns["payload"])
        return out


@dataclass(frozen=True)
class Booked:
    """The day's checkout_complete events: their rows among the events, ids and amounts."""

    rows: slice
    ids: pa.Array
    amount: np.ndarray


def arrival_events(w: World, b: Blocks, ss: Sessions) -> None:
    platform = w.identities.platform[ss.ident]
    b.add(
        E.APP_START,
        np.arange(len(ss.ident)),
        0.0,
        json_objects(
            ("platform", take(vocab(PLATFORMS), platform), True),
            ("app_version", take(APP_VERSIONS, platform), True),
            ("referrer", take(vocab(REFERRERS), ss.entry), True),
        ),
    )
    clicked = np.flatnonzero(ss.click >= 0)
    b.add(
        E.EMAIL_CLICK,
        clicked,
        1.0,
        json_objects(
            ("message_id", w.day_clicks.message_ids.take(ss.click[clicked]), True),
            ("kind", take(EMAIL_KINDS, w.day_clicks.kind[ss.click[clicked]]), True),
        ),
    )


def page_events(
    w: World, rng: np.random.Generator, b: Blocks, ss: Sessions, c: Counts
) -> np.ndarray:
    """Page views (rarely with leaked PII); returns where each session saw the pricing page."""
    sess, k = expand(c.page)
    pos = rng.uniform(5, 20_000, len(sess))
    pricing = c.pricing[sess] & (k == 0)
    paths = w.landings.paths
    path = pc.if_else(
        pa.array(pricing),
        pa.scalar("/pricing"),
        paths.take(rng.integers(0, len(paths), len(sess))),
    )
    referrer = take(vocab(REFERRERS), ss.entry[sess])
    payload = json_objects(("path", path, True), ("referrer", referrer, True))
    leak = rng.random(len(sess)) < PII_LEAK_SHARE
    if leak.any():  # a client bug sends PII the allowlist should have stopped
        rows = np.flatnonzero(leak)
        email = pc.binary_join_element_wise("guest", to_text(rows), "@example.com", "")
        leaked = json_objects(
            ("path", path.take(rows), True),
            ("referrer", referrer.take(rows), True),
            ("email", email, True),
        )
        payload = pc.replace_with_mask(payload, pa.array(leak), leaked)
    surface = np.where(pricing, SURFACES.index("pricing_page"), SURFACES.index("landing"))
    b.add(E.PAGE_VIEW, sess, pos, payload, surface=surface)
    pricing_pos = np.zeros(len(ss.ident))
    pricing_pos[sess[pricing]] = pos[pricing]
    return pricing_pos


def search_events(w: World, rng: np.random.Generator, d: int, b: Blocks, c: Counts) -> None:
    sess, k = expand(c.search)
    n = len(sess)
    # Search payload v3 adds "filters"; app updates roll it out over a week.
    v3 = rng.random(n) < np.clip((d - int(w.cfg.days * SEARCH_V3_FROM) + 1) / 7, 0, 1)
    city = w.listings.city[rng.integers(0, len(w.listings.city), n)]
    fields = [
        ("query_class", take(QUERY_CLASSES, rng.random(n) < 0.1), True),
        ("city", take(vocab(CITIES), city), True),
        ("results_count", to_text(rng.poisson(40, n)), False),
    ]
    payload = pc.if_else(
        pa.array(v3),
        json_objects(*fields, ("filters", to_text(rng.poisson(1.0, n)), False)),
        json_objects(*fields),
    )
    b.add(E.SEARCH, sess, 1000.0 + 100 * k, payload, version=np.where(v3, 3, 2))


def listing_events(
    w: World, rng: np.random.Generator, d: int, b: Blocks, c: Counts
) -> tuple[np.ndarray, Booked]:
    """Listing views, favorites, messages and checkouts. The k-th message, checkout start
    and completion of a session are about the listing of its k-th view. Returns the surface
    of each session's first listing view and the bookings made."""
    lst = w.listings
    vs, vk = expand(c.view)
    listing = pick_listings(lst, rng, w.start + d * DAY, len(vs))
    studio = lst.is_studio[listing]
    ids = lst.ids.take(listing)
    view_first = np.cumsum(c.view) - c.view
    payload = pc.if_else(
        pa.array(studio),
        json_objects(("studio_id", ids, True), ("position", to_text(vk + 1), False)),
        json_objects(("profile_id", ids, True), ("position", to_text(vk + 1), False)),
    )
    for kind, etype in ((False, E.PROFILE_VIEW), (True, E.STUDIO_VIEW)):
        rows = np.flatnonzero(studio == kind)
        pos = 1050.0 + 100 * vk[rows]
        b.add(etype, vs[rows], pos, payload.take(rows), listing=listing[rows])

    fs, fk = expand(c.favorite)
    fl = listing[view_first[fs] + fk]
    page = np.where(
        lst.is_studio[fl], SURFACES.index("studio_page"), SURFACES.index("profile_page")
    )
    favorite = json_objects(
        ("listing_id", lst.ids.take(fl), True),
        ("listing_kind", take(LISTING_KINDS, lst.is_studio[fl]), True),
    )
    b.add(E.FAVORITE_ADD, fs, 1060.0 + 100 * fk, favorite, surface=page, listing=fl)

    ms, mk = expand(c.message)
    ml = listing[view_first[ms] + mk]
    message = json_objects(
        ("listing_id", lst.ids.take(ml), True),
        ("thread_id", w.ids("thr_", d, len(ms)), True),
        ("length", to_text(rng.poisson(180, len(ms))), False),
    )
    b.add(E.MESSAGE_SENT, ms, 60_000.0 + mk, message, listing=ml)

    cs, ck = expand(c.checkout_start)
    cl = listing[view_first[cs] + ck]
    amount = ((lst.price_cents[cl] * rng.lognormal(0, 0.3, len(cs)) / 100).round() * 100).astype(
        np.int64
    )
    start = json_objects(
        ("listing_id", lst.ids.take(cl), True),
        ("amount_cents", to_text(amount), False),
        ("currency", "EUR", True),
    )
    b.add(E.CHECKOUT_START, cs, 70_000.0 + ck, start, listing=cl)

    bs, bk = expand(c.checkout_complete)
    of_start = (np.cumsum(c.checkout_start) - c.checkout_start)[bs] + bk
    bl, b_amount = cl[of_start], amount[of_start]
    booking_ids = w.ids("bkg_", d, len(bs))
    complete = json_objects(
        ("booking_id", booking_ids, True),
        ("listing_id", lst.ids.take(bl), True),
        ("amount_cents", to_text(b_amount), False),
        ("currency", "EUR", True),
    )
    rows = b.add(E.CHECKOUT_COMPLETE, bs, 80_000.0 + bk, complete, listing=bl)

    first_studio = np.zeros(len(c.view), dtype=bool)
    first_studio[vs[vk == 0]] = studio[vk == 0]
    view_surface = np.where(
        first_studio, SURFACES.index("studio_page"), SURFACES.index("profile_page")
    )
    return view_surface, Booked(rows, booking_ids, b_amount)


def timestamps(
    rng: np.random.Generator, sess: np.ndarray, pos: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Client times: events in position order within a session, lognormal gaps apart."""
    order = np.lexsort((pos, sess))
    in_order = sess[order]
    head = np.ones(len(order), dtype=bool)
    head[1:] = in_order[1:] != in_order[:-1]
    gaps = lognormal(rng, 20 * SEC, 1.0, len(order)) + 1
    gaps[head] = 0
    cum = np.cumsum(gaps)
    ts = np.empty(len(order), dtype=np.int64)
    ts[order] = start[in_order] + cum - np.maximum.accumulate(np.where(head, cum, 0))
    return ts
