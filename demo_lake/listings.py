"""Supply: photographers' profiles and studios, their edits, open slots and document checks."""

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo_lake.arrays import choice, take, vocab, weighted_pick
from demo_lake.config import PROFILES, STUDIOS, LakeConfig
from demo_lake.ids import make_ids, salt
from demo_lake.timeline import DAY, HOUR, NEVER, lognormal, time_of_day
from demo_lake.world import World

CITIES = (
    "berlin", "hamburg", "munich", "cologne", "frankfurt", "stuttgart", "dusseldorf", "leipzig",
    "vienna", "zurich", "amsterdam", "london", "paris", "barcelona", "milan", "copenhagen",
    "stockholm", "prague", "warsaw", "lisbon",
)  # fmt: skip
LISTING_KINDS = pa.array(["profile", "studio"])
UPDATE_KINDS = ("photos", "pricing", "availability", "description", "services")


@dataclass
class Listings:
    is_studio: np.ndarray
    created: np.ndarray
    deactivated: np.ndarray
    popularity: np.ndarray
    price_cents: np.ndarray
    update_rate: np.ndarray
    capacity: np.ndarray
    city: np.ndarray
    ids: pa.Array
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def active_at(self, ts: int) -> np.ndarray:
        return (self.created <= ts) & (self.deactivated > ts)


def build_listings(rng: np.random.Generator, cfg: LakeConfig, start: int) -> Listings:
    n_prof = max(20, round(PROFILES * cfg.scale))
    n_std = max(5, round(STUDIOS * cfg.scale))
    n = n_prof + n_std
    is_studio = np.arange(n) >= n_prof
    # Most listings predate the window (denser recently); some are created during it.
    in_window = rng.random(n) < 0.15
    before = start - (rng.random(n) ** 1.6 * 3 * 365 * DAY).astype(np.int64)
    during = start + (rng.random(n) * cfg.days * DAY).astype(np.int64)
    created = np.where(in_window, during, before)
    gone = rng.random(n) < 0.10
    deactivated = np.where(gone, created + lognormal(rng, 200 * DAY, 0.8, n), NEVER)
    city = choice(rng, 1 / np.arange(1, len(CITIES) + 1) ** 0.8, n)
    ids = pc.if_else(
        pa.array(is_studio),
        make_ids("std_", np.arange(n), salt(cfg.seed, "studio")),
        make_ids("prf_", np.arange(n), salt(cfg.seed, "profile")),
    )
    return Listings(
        is_studio=is_studio,
        created=created,
        deactivated=deactivated,
        popularity=rng.lognormal(0, 1.1, n),
        price_cents=np.where(is_studio, 15_000, 9_000) * rng.lognormal(0, 0.45, n),
        update_rate=rng.lognormal(np.log(1 / 25), 0.9, n),
        capacity=np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(np.log(8), 0.6, n)),
        city=city,
        ids=ids,
    )


def pick_listings(lst: Listings, rng: np.random.Generator, ts: int, n: int) -> np.ndarray:
    """Active listings at ``ts``, drawn in proportion to their popularity."""
    cum = np.cumsum(lst.popularity * lst.active_at(ts))
    return weighted_pick(rng, cum, len(cum), n)


def supply(w: World, rng: np.random.Generator, d: int, day0: int) -> None:
    lst, idn = w.listings, w.identities
    active = np.flatnonzero(lst.active_at(day0))
    kinds = take(LISTING_KINDS, lst.is_studio)

    edited = active[rng.random(len(active)) < lst.update_rate[active]]
    at = day0 + time_of_day(rng, len(edited))
    w.sink.add(
        "fact_listing_updates",
        at // DAY,
        {
            "listing_id": lst.ids.take(edited),
            "listing_kind": kinds.take(edited),
            "updated_ts": at,
            "update_kind": take(
                vocab(UPDATE_KINDS), choice(rng, [30, 20, 25, 15, 10], len(edited))
            ),
        },
    )
    capacity = lst.capacity[active] * rng.uniform(0.4, 1.3, len(active))
    w.sink.add(
        "fact_availability_snapshots",
        np.full(len(active), day0 // DAY),
        {
            "listing_id": lst.ids.take(active),
            "listing_kind": kinds.take(active),
            "open_slots_next_14d": rng.poisson(capacity).astype(np.int32),
        },
    )
    # Owners verify their documents when they create a listing, and now and then again.
    new = np.flatnonzero((lst.created >= day0) & (lst.created < day0 + DAY))
    again = active[rng.random(len(active)) < 0.001]
    listing = np.concatenate([new, again])
    submitted = np.concatenate(
        [
            lst.created[new] + lognormal(rng, HOUR, 1.0, len(new)),
            day0 + time_of_day(rng, len(again)),
        ]
    )
    m = len(listing)
    decided = submitted + lognormal(rng, 6 * HOUR, 1.1, m)
    status = np.where(decided <= w.end, rng.random(m) < 0.13, 2)
    w.sink.add(
        "fact_doc_verifications",
        submitted // DAY,
        {
            "verification_id": w.ids("ver_", d, m),
            "user_id": idn.user_ids.take(lst.owner[listing]),
            "listing_id": lst.ids.take(listing),
            "submitted_ts": submitted,
            "verified_ts": decided,
            "status": take(vocab(("verified", "rejected", "pending")), status),
        },
    )


def write_dim_listings(w: World) -> None:
    """dim_listings as of the window's end."""
    idn, lst, end = w.identities, w.listings, w.end
    w.sink.write_whole(
        "dim_listings",
        {
            "listing_id": lst.ids,
            "listing_kind": take(LISTING_KINDS, lst.is_studio),
            "owner_user_id": idn.user_ids.take(lst.owner),
            "created_ts": lst.created,
            "city": take(vocab(CITIES), lst.city),
            "is_active": lst.deactivated > end,
            "deactivated_ts": lst.deactivated,
        },
    )
