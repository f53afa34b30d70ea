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
