"""The demo lake's experiments: their definitions, assignment, first exposures and the outcomes
of exposed units (fact_experiment_exposures)."""

from dataclasses import dataclass, field

import numpy as np

from demo_lake.arrays import const, json_objects, take, vocab
from demo_lake.clients import USER_AGENTS
from demo_lake.events import Blocks, E
from demo_lake.ids import mix48, salt
from demo_lake.sessions import Sessions
from demo_lake.timeline import DAY
from demo_lake.world import World
from experiments.surfaces import SURFACES


@dataclass(frozen=True)
class Experiment:
    key: str
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    trigger: str  # "search", "view" or "pricing": the session event that exposes the unit
    start_share: float  # share of the window before the experiment starts
    lift: dict[str, float] = field(default_factory=dict)  # relative effect per variant


# Assignment hashes the unit's pool index with the experiment key, so splits match the weights
# exactly in expectation (no sample-ratio mismatch). Known crawlers always get control (no
# cloaking), so analyses must filter them by user_agent.
EXPERIMENTS = (
    Experiment("search_ranking_v2", ("control", "treatment"), (0.5, 0.5), "search", 0.25,
               {"treatment": 0.03}),
    Experiment("checkout_button_color", ("control", "treatment"), (0.5, 0.5), "view", 0.0),
    Experiment("pricing_page_3way", ("control", "b", "c"), (0.34, 0.33, 0.33), "pricing", 0.5),
)  # fmt: skip

# An experiment's trigger: (sessions that have it, its position in the session, its surface or
# None for the surface of the session's first listing view).
Triggers = dict[str, tuple[np.ndarray, np.ndarray, int | None]]
# A day's first exposures of one experiment: (experiment index, rows among the events,
# sessions, variant indices, surfaces).
Exposures = list[tuple[int, slice, np.ndarray, np.ndarray, np.ndarray]]


def exposure_outcomes(
    rng: np.random.Generator, latent: np.ndarray, lift: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pre-period value, post-exposure value and conversion of exposed units.

    Both values share the unit's latent level (correlation about 0.6, what CUPED exploits);
    ``lift`` is the relative effect of each unit's variant on the value and on the conversion
    probability (base about 7%)."""
    z, n = latent.astype(np.float64), len(latent)
    pre = 25 * np.exp(0.6 * (0.8 * z + 0.6 * rng.standard_normal(n)) - 0.18)
    post = 25 * np.exp(0.6 * (0.8 * z + 0.6 * rng.standard_normal(n)) - 0.18) * (1 + lift)
    converted = rng.random(n) < np.minimum(0.07 * np.exp(0.5 * z - 0.125) * (1 + lift), 1.0)
    return pre, post, converted


# Where the marketplace's visitors come from (the exposure's GeoIP country), by share.
COUNTRIES = ("DE", "GB", "FR", "NL", "ES", "IT", "US", "PL")
COUNTRY_SHARES = (0.34, 0.16, 0.12, 0.09, 0.08, 0.08, 0.08, 0.05)


def country_of(seed: int, ident: np.ndarray) -> np.ndarray:
    """Country index per identity: a hash, so one identity keeps its country and no draw of the
    random stream is spent (the rest of the lake stays as it was)."""
    uniform = (mix48(ident.astype(np.uint64) + salt(seed, "country")) % np.uint64(10_000)) / 1e4
    return np.searchsorted(np.cumsum(COUNTRY_SHARES), uniform, side="right").astype(np.int32)


def pre_conversion(seed: int, key: str, ident: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """Whether each unit booked in the 28 days before exposure: the conversion's base rate and
    the unit's latent level, drawn from a hash so that no draw of the random stream is spent
    (the rest of the lake stays as it was)."""
    uniform = (mix48(ident.astype(np.uint64) + salt(seed, f"pre:{key}")) % np.uint64(10**6)) / 1e6
    return uniform < np.minimum(0.07 * np.exp(0.5 * latent.astype(np.float64) - 0.125), 1.0)


def assign_variant(seed: int, experiment: Experiment, unit: np.ndarray) -> np.ndarray:
    """Variant index per unit: a hash of (experiment, unit) in 10,000 buckets cut by weight."""
    buckets = mix48(unit.astype(np.uint64) + salt(seed, f"exp:{experiment.key}"))
    buckets = (buckets % np.uint64(10_000)).astype(np.float64)
    edges = np.cumsum(experiment.weights) / sum(experiment.weights) * 10_000
    return np.searchsorted(edges, buckets, side="right").astype(np.int32)


def exposure_events(
    w: World, d: int, b: Blocks, ss: Sessions, triggers: Triggers, view_surface: np.ndarray
) -> Exposures:
    """First exposures: the first triggering session of each not yet exposed identity."""
    idn, out = w.identities, []
    for e, exp in enumerate(EXPERIMENTS):
        if d < int(w.cfg.days * exp.start_share):
            continue
        has, pos, surface = triggers[exp.trigger]
        candidates = np.flatnonzero(has & ~idn.exposed[e, ss.ident])
        _, first = np.unique(ss.ident[candidates], return_index=True)
        sess = candidates[np.sort(first)]
        ident = ss.ident[sess]
        idn.exposed[e, ident] = True
        variant = np.where(idn.is_crawler[ident], 0, assign_variant(w.cfg.seed, exp, ident))
        surf = view_surface[sess] if surface is None else np.full(len(sess), surface)
        payload = json_objects(
            ("experiment_key", exp.key, True),
            ("variant", take(vocab(exp.variants), variant), True),
        )
        rows = b.add(E.EXPERIMENT_EXPOSURE, sess, pos[sess], payload, surface=surf)
        out.append((e, rows, sess, variant, surf))
    return out


def exposure_rows(
    w: World, rng: np.random.Generator, ss: Sessions, ts: np.ndarray, exposures: Exposures
) -> None:
    idn = w.identities
    for e, rows, sess, variant, surface in exposures:
        exp, ident, at, m = EXPERIMENTS[e], ss.ident[sess], ts[rows], len(sess)
        lift = np.array([exp.lift.get(v, 0.0) for v in exp.variants])[variant]
        pre, post, converted = exposure_outcomes(rng, idn.latent[ident], lift)
        bot = idn.is_crawler[ident]
        w.sink.add(
            "fact_experiment_exposures",
            at // DAY,
            {
                "experiment_key": const(exp.key, m),
                "variant": take(vocab(exp.variants), variant),
                "identity_id": idn.identity_ids.take(ident),
                "user_id": idn.user_at(ident, at),
                "exposure_ts": at,
                "surface": take(vocab(SURFACES), surface),
                "user_agent": take(vocab(USER_AGENTS), idn.platform[ident]),
                "country": take(vocab(COUNTRIES), country_of(w.cfg.seed, ident)),
                "pre_value": np.where(bot, 0.0, pre.round(2)),
                "outcome_value": np.where(bot, 0.0, post.round(2)),
                "converted": converted & ~bot,
                "pre_converted": pre_conversion(w.cfg.seed, exp.key, ident, idn.latent[ident])
                & ~bot,
            },
        )
