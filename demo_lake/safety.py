"""Trust and safety: DMCA notices, safe-for-work checks, and the takedowns both lead to."""

import numpy as np
import pyarrow as pa

from demo_lake.arrays import choice, take, vocab
from demo_lake.config import DMCA_NOTICES_PER_DAY, SFW_CHECKS_PER_DAY
from demo_lake.listings import pick_listings
from demo_lake.timeline import DAY, HOUR, MINUTE, lognormal, time_of_day
from demo_lake.world import World

CLAIMANTS = (
    "Getty Images", "Shutterstock", "Alamy", "Agentur Lichtblick", "Studio Nordlicht GmbH",
    "Individual rights holder",
)  # fmt: skip
DMCA_ACTIONS = ("takedown", "counter_notice", "rejected")
SFW_SURFACES = ("search_results", "profile_page", "studio_page", "messages", "landing")


def notices_and_checks(w: World, rng: np.random.Generator, d: int, day0: int) -> None:
    """DMCA notices, SFW checks, and the takedowns both lead to."""
    lst, end = w.listings, w.end
    k = rng.poisson(DMCA_NOTICES_PER_DAY * w.cfg.scale)
    listing = pick_listings(lst, rng, day0, k)
    received = day0 + (rng.random(len(listing)) * DAY).astype(np.int64)
    k = len(listing)
    actioned = received + lognormal(rng, 18 * HOUR, 1.0, k)
    action = choice(rng, [65, 10, 25], k)  # takedown, counter_notice, rejected
    w.sink.add(
        "support_dmca_notices",
        received // DAY,
        {
            "notice_id": w.ids("dmc_", d, k),
            "listing_id": lst.ids.take(listing),
            "claimant": take(vocab(CLAIMANTS), choice(rng, [5, 3, 2, 2, 1, 4], k)),
            "received_ts": received,
            "actioned_ts": actioned,
            "action": take(vocab(DMCA_ACTIONS), action, null=actioned > end),
        },
    )
    taken = np.flatnonzero((action == 0) & (actioned <= end))

    c = rng.poisson(SFW_CHECKS_PER_DAY * w.cfg.scale * w.season[d])
    surface = choice(rng, [35, 30, 8, 20, 7], c)  # SFW_SURFACES
    public = surface != SFW_SURFACES.index("messages")
    checked = day0 + time_of_day(rng, c)
    violation = rng.random(c) < np.where(public, 0.004, 0.01)
    items = w.ids("med_", d, c)
    w.sink.add(
        "fact_sfw_checks",
        checked // DAY,
        {
            "check_id": w.ids("sfw_", d, c),
            "surface": take(vocab(SFW_SURFACES), surface),
            "is_public_surface": public,
            "item_id": items,
            "checked_ts": checked,
            "is_violation": violation,
        },
    )
    removed = np.flatnonzero(violation & (rng.random(c) < np.where(public, 0.85, 0.5)))
    requested = np.concatenate(
        [
            actioned[taken],
            checked[removed] + lognormal(rng, 8 * MINUTE, 1.0, len(removed)),
        ]
    )
    t = len(requested)
    w.sink.add(
        "fact_takedowns",
        requested // DAY,
        {
            "takedown_id": w.ids("tkd_", d, t),
            "item_id": pa.concat_arrays([lst.ids.take(listing[taken]), items.take(removed)]),
            "source": take(vocab(("dmca", "moderation")), np.arange(t) >= len(taken)),
            "requested_ts": requested,
            "propagated_ts": requested + lognormal(rng, 20 * MINUTE, 1.3, t),
        },
    )
