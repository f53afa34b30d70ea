"""Reference computations the tests compare the code's numbers with, written independently of
experiments.stats (from unit-level data, by other formulas)."""

import numpy as np
import pandas as pd
from scipy import stats as sps

from warehouse.lake import contract, storage

EXPOSURES = contract.table("fact_experiment_exposures")


def welch_on_ratios(
    control: tuple[np.ndarray, np.ndarray], treatment: tuple[np.ndarray, np.ndarray], alpha: float
) -> tuple[float, float, tuple[float, float], float, float]:
    """Control ratio, lift, interval, p-value of Σx/Σy between two arms of (x, y) per unit, and
    the p-value of the relative lift.

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
    return r_c, lift, (lift - quantile * se, lift + quantile * se), p_value, relative


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
    (m_c, v_c, n_c), (m_t, v_t, n_t) = control, treatment
    b_c, b_t = base if base is not None else (m_c, m_t)
    se = np.sqrt(v_t / (n_t * b_c**2) + b_t**2 * v_c / (n_c * b_c**4))
    z = abs((m_t - m_c) / b_c) / se
    return float(2 * (sps.norm.sf(z) if df is None else sps.t.sf(z, df)))


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
