"""Search engines: landing pages (brand pages and city x category pages), their indexing, and
the daily search-console rows."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo_lake.arrays import take, vocab
from demo_lake.config import LakeConfig
from demo_lake.listings import CITIES
from demo_lake.world import World

BRAND_PAGES = ("/", "/app", "/how-it-works", "/pricing", "/gift-cards")
CATEGORIES = (
    "photographers", "wedding-photographers", "portrait-photographers", "videographers",
    "photo-studios", "makeup-artists", "models", "retouchers", "drone-pilots",
    "event-photographers", "product-photographers", "fashion-photographers",
    "food-photographers", "newborn-photographers", "headshots",
)  # fmt: skip
QUERY_CLASSES = pa.array(["non_brand", "brand"])


@dataclass(frozen=True)
class Landings:
    paths: pa.Array
    is_brand: np.ndarray
    impressions: np.ndarray  # daily impressions at scale 1
    position: np.ndarray
    is_submitted: np.ndarray
    indexed_from: np.ndarray  # window day the page is indexed from (-1: all window)
    indexed_until: np.ndarray  # last window day it is indexed


def build_landings(rng: np.random.Generator, cfg: LakeConfig) -> Landings:
    paths = [*BRAND_PAGES, *(f"/{c}/{k}" for c in CITIES for k in CATEGORIES)]
    n = len(paths)
    is_brand = np.arange(n) < len(BRAND_PAGES)
    rank = rng.permutation(n) + 1
    impressions = 60_000 / rank**1.1 * np.where(is_brand, 4, 1)
    submitted = rng.random(n) < 0.92
    indexed = rng.random(n) < np.where(submitted, 0.88, 0.25)
    indexed[is_brand] = True
    submitted[is_brand] = True
    # A few pages drop out of the index during the window, a few get indexed.
    change_day = (rng.random(n) * cfg.days).astype(int)
    flips = rng.random(n) < 0.04
    indexed_from = np.where(indexed, -1, np.where(flips, change_day, cfg.days))
    indexed_until = np.where(indexed & flips & ~is_brand, change_day, cfg.days)
    position = np.where(is_brand, rng.uniform(1.0, 1.4, n), rng.lognormal(np.log(9), 0.6, n))
    return Landings(
        paths=vocab(paths),
        is_brand=is_brand,
        impressions=impressions,
        position=position,
        is_submitted=submitted,
        indexed_from=indexed_from,
        indexed_until=indexed_until,
    )


def search_console(w: World, rng: np.random.Generator, d: int) -> None:
    """Search-console rows: impressions long-tailed by page, CTR falling with position."""
    la = w.landings
    n = len(la.is_brand)
    indexed = (la.indexed_from <= d) & (d <= la.indexed_until)
    expected = la.impressions * w.cfg.scale * w.season[d] * rng.lognormal(0, 0.15, n)
    impressions = np.where(indexed, rng.poisson(expected), 0)
    position = la.position * rng.lognormal(0, 0.08, n)
    ctr = np.minimum(0.3 / position**0.9 * np.where(la.is_brand, 1.8, 1.0), 0.7)
    w.sink.add(
        "fact_seo_landings",
        np.full(n, w.sink.first_day + d),
        {
            "landing_path": la.paths,
            "query_class": take(QUERY_CLASSES, la.is_brand),
            "impressions": impressions,
            "clicks": rng.binomial(impressions, ctr),
            "avg_position": np.where(impressions > 0, position.round(1), np.nan),
            "is_indexed": indexed,
            "is_submitted": la.is_submitted,
        },
    )
