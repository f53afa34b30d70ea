"""Reference computations the tests compare the code's numbers with, written independently of
experiments.stats (from unit-level data, by other formulas)."""

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from warehouse.lake import contract, storage

EXPOSURES = contract.table("fact_experiment_exposures")


class RatioReference(NamedTuple):
    control_ratio: float
    lift: float
    interval: tuple[float, float]
    p_value: float
    relative_p_value: float
    se: float


def welch_on_ratios(
    control: tuple[np.ndarray, np.ndarray], treatment: tuple[np.ndarray, np.ndarray], alpha: float
) -> RatioReference:
    """Control ratio, lift, interval, p-value of Σx/Σy between two arms of (x, y) per unit, the
    p-value of the relative lift, and the lift's standard error.

    The ratio's variance by linearisation: var((x - R·y)/ȳ) / n over the units (the delta
    method written another way), then Welch's t with Satterthwaite's degrees of freedom."""

    def arm(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
        ratio = x.sum() / y.sum()
        linear = (x - ratio * y) / y.mean()
        return ratio, linear.var(ddof=1) / len(x), len(x)

    (r_c, v_c, n_c), (r_t, v_t, n_t) = arm(*control), arm(*treatment)
    se = np.sqrt(v_c + v_t)
    df = (v_c + v_t) ** 2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1))
    quantile = sps.t.ppf(1 - alpha / 2, df)
    lift = r_t - r_c
    p_value = 2 * sps.t.sf(abs(lift) / se, df)
    relative = relative_p_value((r_c, v_c * n_c, n_c), (r_t, v_t * n_t, n_t), df)
    interval = (lift - quantile * se, lift + quantile * se)
    return RatioReference(r_c, lift, interval, p_value, relative, float(se))


def relative_p_value(
    control: tuple[float, float, int],
    treatment: tuple[float, float, int],
    df: float | None,
    base: tuple[float, float] | None = None,
) -> float:
    """Two-sided p of the relative lift (m_t - m_c)/b_c from (mean, per-unit variance, n) of
    each arm: delta-method se² = v_t/(n_t b_c²) + b_t² v_c/(n_c b_c⁴), on Welch's t with `df`
    (the normal when None). `base` (b_c, b_t): the unadjusted means when CUPED adjusted the
    arms; the means themselves otherwise. GrowthBook's relative t-test, written out."""
    (m_c, _, _), (m_t, _, _) = control, treatment
    b_c = base[0] if base is not None else m_c
    z = abs((m_t - m_c) / b_c) / relative_se(control, treatment, base)
    return float(2 * (sps.norm.sf(z) if df is None else sps.t.sf(z, df)))


def relative_se(
    control: tuple[float, float, int],
    treatment: tuple[float, float, int],
    base: tuple[float, float] | None = None,
) -> float:
    """The delta-method standard error of the relative lift (relative_p_value says how)."""
    (m_c, v_c, n_c), (m_t, v_t, n_t) = control, treatment
    b_c, b_t = base if base is not None else (m_c, m_t)
    return float(np.sqrt(v_t / (n_t * b_c**2) + b_t**2 * v_c / (n_c * b_c**4)))


def confidence_sequence(
    estimate: float,
    se: float,
    n_total: int,
    alpha: float,
    tuning: float,
    level: float | None = None,
) -> tuple[float, float]:
    """Howard et al.'s asymptotic confidence sequence as Waudby-Smith et al. (2023) state it
    (arXiv:2103.06476v7 eq. 9, with their eq. 161 choice of rho for a tuning sample size):
    estimate ± sqrt(N·se²)·sqrt(2(N·rho² + 1)/(N²·rho²) · log(sqrt(N·rho² + 1)/level)).
    rho is chosen for the nominal `alpha`; `level` (alpha when not given) is the level read,
    lower than alpha when a multiple-comparison correction widens the interval."""
    rho2 = (-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning
    variance = n_total * se**2
    radius = np.sqrt(
        variance
        * 2
        * (n_total * rho2 + 1)
        / (n_total**2 * rho2)
        * np.log(np.sqrt(n_total * rho2 + 1) / (level or alpha))
    )
    return float(estimate - radius), float(estimate + radius)


def sequential_p_value(
    estimate: float, se: float, n_total: int, alpha: float, tuning: float
) -> float:
    """The smallest level whose confidence sequence excludes 0, found by root search on the
    sequence's bound (1 when even the level-1 sequence holds 0)."""

    def gap(log_level: float) -> float:
        low, high = confidence_sequence(estimate, se, n_total, alpha, tuning, np.exp(log_level))
        return (high - low) / 2 - abs(estimate)

    if gap(0.0) >= 0:
        return 1.0
    return float(np.exp(optimize.brentq(gap, -700.0, 0.0, xtol=1e-14, rtol=1e-14)))


def baseline_reference(root, key: str, start: str, end: str) -> dict:
    frame = pd.read_parquet(storage.table_dir(root, EXPOSURES))
    frame["event_dt"] = frame["event_dt"].astype(str)
    frame = (
        frame[
            (frame.experiment_key == key)
            & frame.event_dt.between(start, end)
            & ~frame.user_agent.str.contains("Googlebot|bingbot")
        ]
        .sort_values(["exposure_ts", "variant"])
        .drop_duplicates("identity_id")
    )
    control = frame[frame.variant == "control"]
    return {
        "daily_units": len(frame) / frame.event_dt.nunique(),
        "control_units": len(control),
        "conversion_rate": control.converted.mean(),
        "mean": control.outcome_value.mean(),
        "std": control.outcome_value.std(ddof=1),
        "correlation": np.corrcoef(control.pre_value, control.outcome_value)[0, 1],
    }


# The demo lake's crawlers, as its generator writes them (not the portal's list).
LAKE_CRAWLERS = "Googlebot|bingbot"


def exposed_units(root, key: str, start, end) -> pd.DataFrame:
    """An experiment's units: identities exposed in the window (dates or ISO strings), never
    with a crawler's agent and to one variant only, at their first exposure (`event_dt` as
    dates)."""
    frame = pd.read_parquet(storage.table_dir(root, EXPOSURES))
    frame["event_dt"] = pd.to_datetime(frame["event_dt"].astype(str)).dt.date
    start, end = (pd.Timestamp(str(day)).date() for day in (start, end))
    frame = frame[
        (frame.experiment_key == key) & (frame.event_dt >= start) & (frame.event_dt <= end)
    ]
    crawled = frame.user_agent.fillna("").str.contains(LAKE_CRAWLERS)
    identity = frame.assign(crawled=crawled).groupby("identity_id")
    left_out = (identity.crawled.any()) | (identity.variant.nunique() > 1)
    frame = frame[~frame.identity_id.map(left_out)]
    return frame.sort_values("exposure_ts").drop_duplicates("identity_id")


def per_unit_ratio(units: pd.DataFrame, events: pd.DataFrame, numerator, denominator):
    """Each unit's numerator x and denominator y from the day of its first exposure to the last
    event given, and x_pre and y_pre of the 28 days before that day; 0 where a unit has no
    events: a catalogue metric's definition, re-derived in pandas (`numerator` and
    `denominator` map event rows to their contributions)."""
    events = events.assign(event_dt=pd.to_datetime(events["event_dt"].astype(str)).dt.date)
    events = events.merge(
        units[["identity_id", "event_dt"]], on="identity_id", suffixes=("", "_exposed")
    )
    days = (pd.to_datetime(events.event_dt) - pd.to_datetime(events.event_dt_exposed)).dt.days
    events = events.assign(x=numerator(events), y=denominator(events), after=days >= 0)
    events = events[days >= -28]
    after = events[events.after].groupby("identity_id")[["x", "y"]].sum()
    before = events[~events.after].groupby("identity_id")[["x", "y"]].sum()
    joined = units[["identity_id", "variant", "event_dt"]].merge(
        after, on="identity_id", how="left"
    )
    joined = joined.merge(
        before.add_suffix("_pre"), left_on="identity_id", right_index=True, how="left"
    )
    return joined.fillna({"x": 0.0, "y": 0.0, "x_pre": 0.0, "y_pre": 0.0})


class RatioCupedReference(NamedTuple):
    theta: float
    lift: float
    lift_rel: float
    se: float
    se_rel: float
    df: float
    relative_p_value: float


def ratio_cuped_on_units(
    control: tuple[np.ndarray, ...], treatment: tuple[np.ndarray, ...]
) -> RatioCupedReference:
    """CUPED for a ratio from the units' (x, y, x', y') of two arms, the delta method written
    over each arm's vector of four means m with the covariance of that vector (numpy's cov / n)
    and gradients taken numerically (the complex step), none of it from sums:
    adjusted(m) = m0/m1 - theta m2/m3; theta the vertex of the variance of the
    difference; the relative lift (adjusted_t - adjusted_c) / (m0/m1 of the control), its
    variance from the gradient in both arms' means; Welch's degrees of freedom and t."""
    arms = [np.vstack(arm) for arm in (control, treatment)]
    means = [arm.mean(axis=1) for arm in arms]
    covariances = [np.cov(arm) / arm.shape[1] for arm in arms]

    def gradient(f, point: np.ndarray) -> np.ndarray:
        step = 1e-30  # the complex step: exact to rounding for a rational f
        return np.array([f(point + 1j * step * e).imag / step for e in np.eye(len(point))])

    def adjusted(m, theta):
        return m[0] / m[1] - theta * m[2] / m[3]

    def arm_variances(theta: float) -> list[float]:
        return [
            float(g @ c @ g)
            for g, c in (
                (gradient(lambda m: adjusted(m, theta), mu), c)
                for mu, c in zip(means, covariances, strict=True)
            )
        ]

    # The variance of the difference is a parabola in theta: its vertex from three of its
    # values is exact to rounding, where a numerical minimiser stops near 1e-8.
    low, middle, high = (sum(arm_variances(t)) for t in (-1.0, 0.0, 1.0))
    theta = (low - high) / (2 * (low + high - 2 * middle))
    mean_c, mean_t = means
    lift = float(adjusted(mean_t, theta) - adjusted(mean_c, theta))
    base = mean_c[0] / mean_c[1]

    def relative(m_c, m_t):
        return (adjusted(m_t, theta) - adjusted(m_c, theta)) / (m_c[0] / m_c[1])

    g_c = gradient(lambda m: relative(m, mean_t), mean_c)
    g_t = gradient(lambda m: relative(mean_c, m), mean_t)
    se_rel = float(np.sqrt(g_c @ covariances[0] @ g_c + g_t @ covariances[1] @ g_t))
    v_c, v_t = arm_variances(theta)
    n_c, n_t = (arm.shape[1] for arm in arms)
    df = (v_c + v_t) ** 2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1))
    p_value = float(2 * sps.t.sf(abs(lift / base) / se_rel, df))
    return RatioCupedReference(
        theta, lift, float(lift / base), float(np.sqrt(v_c + v_t)), se_rel, df, p_value
    )
