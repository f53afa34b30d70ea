"""Everyone who is ever seen: consumers (a fifth sign up), crawlers and listing owners."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from demo_lake.arrays import choice
from demo_lake.clients import CRAWLER_PLATFORMS, HUMAN_PLATFORM_P
from demo_lake.config import (
    CRAWLER_SESSIONS_PER_DAY,
    NEW_IDENTITIES_PER_DAY,
    PRE_WINDOW_IDENTITIES,
    USER_SHARE,
    LakeConfig,
)
from demo_lake.consent import CONSENT_FLAGS
from demo_lake.exposures import EXPERIMENTS
from demo_lake.ids import make_ids, salt
from demo_lake.listings import Listings
from demo_lake.timeline import DAY, MINUTE, NEVER, lognormal, time_of_day
from demo_lake.world import World


@dataclass
class Identities:
    """Everyone who is ever seen, sorted by first_seen, with the state that evolves day by day."""

    first_seen: np.ndarray
    became_user: np.ndarray
    activity: np.ndarray  # how often one comes back, before it fades with age (see fade)
    weight_cum: np.ndarray  # cumsum of activity faded as of the window's start: returning sessions
    latent: np.ndarray  # standard normal; drives propensity and experiment outcomes
    propensity: np.ndarray  # mean-one multiplier of message and checkout rates
    platform: np.ndarray
    is_crawler: np.ndarray
    identity_ids: pa.Array
    user_ids: pa.Array  # null for identities that never become users
    day_bounds: np.ndarray  # identities first seen on window day d: [day_bounds[d], [d + 1])
    consent: np.ndarray  # (flag, identity) bool
    exposed: np.ndarray  # (experiment, identity) bool
    last_touch: np.ndarray
    last_touch_promo: np.ndarray

    def user_at(self, index: np.ndarray, ts: np.ndarray) -> pa.Array:
        """user_id as of ``ts``: null before the identity became a user."""
        anonymous = self.became_user[index] > ts
        return pc.if_else(
            pa.array(anonymous), pa.scalar(None, pa.string()), self.user_ids.take(index)
        )


def build_identities(
    rng: np.random.Generator, cfg: LakeConfig, start: int, season: np.ndarray, listings: Listings
) -> Identities:
    """The whole pool, drawn up front; also sets each listing's owner."""
    s = cfg.scale
    n_pre = max(50, round(PRE_WINDOW_IDENTITIES * s))
    pre_seen = start - 1 - (rng.random(n_pre) ** 1.4 * 540 * DAY).astype(np.int64)
    new_counts = rng.poisson(NEW_IDENTITIES_PER_DAY * s * season)
    new_day = np.repeat(np.arange(cfg.days), new_counts)
    new_seen = start + new_day * DAY + time_of_day(rng, len(new_day))
    crawl_counts = rng.poisson(CRAWLER_SESSIONS_PER_DAY * s, cfg.days)
    crawl_day = np.repeat(np.arange(cfg.days), crawl_counts)
    crawl_seen = start + crawl_day * DAY + (rng.random(len(crawl_day)) * DAY).astype(np.int64)
    n_own = len(listings.created)
    own_seen = listings.created - lognormal(rng, 20 * DAY, 1.0, n_own)

    consumers = np.concatenate([pre_seen, new_seen])
    n_con, n_crawl = len(consumers), len(crawl_seen)
    first_seen = np.concatenate([consumers, crawl_seen, own_seen])
    n = len(first_seen)
    kind = np.repeat([0, 1, 2], [n_con, n_crawl, n_own])  # consumer, crawler, listing owner

    # About a fifth of consumers sign up: a third in their first session, the rest later.
    signs_up = (kind == 0) & (rng.random(n) < USER_SHARE)
    quick = rng.random(n) < 0.35
    delay = np.where(quick, lognormal(rng, 4 * MINUTE, 0.6, n), lognormal(rng, 6 * DAY, 1.2, n))
    became = np.where(signs_up, first_seen + delay, NEVER)
    owner_became = own_seen + ((listings.created - own_seen) * rng.uniform(0.2, 0.9, n_own))
    became[kind == 2] = owner_became.astype(np.int64)

    latent = rng.standard_normal(n).astype(np.float32)
    activity = rng.lognormal(0, 0.9, n) * np.where(became < NEVER, 2.5, 1.0)
    weight = activity * fade(start - first_seen)
    for a in (activity, weight):
        a[kind == 1] = 0  # a crawler identity never comes back (no cookies)
        a[kind == 2] *= 0.3
    platform = choice(rng, HUMAN_PLATFORM_P, n)
    platform[kind == 1] = rng.choice(CRAWLER_PLATFORMS, n_crawl, p=[0.8, 0.2])

    order = np.argsort(first_seen, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    listings.owner = rank[n_con + n_crawl :]
    first_seen, became, latent = first_seen[order], became[order], latent[order]
    never = became == NEVER
    index = np.arange(n)
    user_ids = make_ids("usr_", index, salt(cfg.seed, "user"))
    return Identities(
        first_seen=first_seen,
        became_user=became,
        activity=activity[order],
        weight_cum=np.cumsum(weight[order]),
        latent=latent,
        propensity=np.exp(0.9 * latent - 0.405).astype(np.float32),
        platform=platform[order],
        is_crawler=(kind == 1)[order],
        identity_ids=make_ids("idn_", index, salt(cfg.seed, "identity")),
        user_ids=pc.if_else(pa.array(never), pa.scalar(None, pa.string()), user_ids),
        day_bounds=np.searchsorted(first_seen, start + np.arange(cfg.days + 1) * DAY),
        consent=np.zeros((len(CONSENT_FLAGS), n), dtype=bool),
        exposed=np.zeros((len(EXPERIMENTS), n), dtype=bool),
        last_touch=np.zeros(n, dtype=np.int64),  # 1970: no touch
        last_touch_promo=np.zeros(n, dtype=np.int16),
    )


def fade(age: np.ndarray) -> np.ndarray:
    """What is left of an identity's activity ``age`` microseconds after it was first seen:
    people come back less as time goes by (never below 30%)."""
    return 0.3 + 0.7 * np.exp(-(np.maximum(age, 0) / DAY) / 180)


def write_dim_identities(w: World) -> None:
    """dim_identities as of the window's end."""
    idn = w.identities
    everyone = np.arange(len(idn.first_seen))
    w.sink.write_whole(
        "dim_identities",
        {
            "identity_id": idn.identity_ids,
            "user_id": idn.user_at(everyone, w.end),
            "first_seen_ts": idn.first_seen,
            "became_user_ts": idn.became_user,
        },
    )
