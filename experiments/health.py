"""Health checks of a running experiment: can its results be trusted?

Pure: a variant's totals (experiments.outcomes), the configured weights and who was left out
of the analysis (analytics/experiments/exposure_hygiene.sql) in; one `HealthCheck` per check
out, each with a status, a title and a sentence a product manager can act on.

- multiple_variants: units exposed to more than one variant are left out of the analysis; a
  warning above 1% of the identities that are not crawlers, an alarm above 5% (a unit id that
  differs between surfaces, a salt or weight changed mid-experiment, a cache serving old
  assignments).
- crawlers: identities exposed with a crawler's user agent are left out; informational, a
  warning when more than 1% of all identities were exposed both as a crawler and as a person
  (the identity key merges people with bots: a shared device id, a prerender service).
- sample_ratio: Pearson's chi-square of the units per variant against the weights
  (experiments.stats.srm); a warning below p 0.01, an alarm below p 0.001.
- pre_period_balance: Welch's t-test of each CUPED covariate (the 28 days before exposure:
  the activity value, and whether the unit booked) between each treatment and control, over
  every unit; randomisation makes the variants alike before exposure, so a difference is a sign
  of broken assignment. A warning below p 0.01, an alarm below p 0.001, for the worst
  covariate and treatment.
- outcome_windows: informational, how many units' 28-day outcome windows have ended (only
  those count toward the 28-day outcome metrics).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from experiments.outcomes import OUTCOME_DAYS, VariantTotals
from experiments.stats import MeanStats, ProportionStats
from experiments.stats.frequentist import welch_test
from experiments.stats.srm import srm_check
from experiments.stats.validation import InputError

Status = Literal["ok", "warning", "alarm"]

MULTI_VARIANT_WARNING, MULTI_VARIANT_ALARM = 0.01, 0.05
CRAWLER_AND_PERSON_WARNING = 0.01
SRM_WARNING, SRM_ALARM = 0.01, 0.001
BALANCE_WARNING, BALANCE_ALARM = 0.01, 0.001


@dataclass(frozen=True)
class HealthCheck:
    """`values`: the check's numbers, each key with one meaning across the checks
    (experiments.serializers.HealthValuesSerializer types them)."""

    check: str
    status: Status
    title: str
    detail: str
    values: dict[str, Any]


@dataclass(frozen=True)
class ExposureHygiene:
    """Who was exposed in the window: identities = units + crawler_units + multi_variant_units
    (a crawler exposed under several variants counts as a crawler)."""

    identities: int
    units: int
    crawler_units: int
    crawler_and_person_units: int  # crawler units also exposed with a person's agent
    multi_variant_units: int


def hygiene_from_row(row: Mapping[str, Any]) -> ExposureHygiene:
    """The one row of analytics/experiments/exposure_hygiene.sql."""
    return ExposureHygiene(
        **{name: int(row[name] or 0) for name in ExposureHygiene.__dataclass_fields__}
    )


def health_checks(
    *,
    totals: Mapping[str, VariantTotals],
    weights: Sequence[float],
    hygiene: ExposureHygiene | None,
) -> tuple[HealthCheck, ...]:
    """Every check; ``totals`` by variant name, control first, in the order of ``weights``.
    Without ``hygiene`` (who was left out is not known) the checks of it are left out."""
    left_out = (_multiple_variants(hygiene), _crawlers(hygiene)) if hygiene else ()
    return (
        *left_out,
        _sample_ratio(totals, weights),
        _pre_period_balance(totals),
        _outcome_windows(totals),
    )


def _graded(value: float, warning: float, alarm: float, *, below: bool) -> Status:
    """ "alarm" or "warning" past a threshold: below it for p-values, above it for shares."""
    if below:
        return "alarm" if value < alarm else "warning" if value < warning else "ok"
    return "alarm" if value > alarm else "warning" if value > warning else "ok"


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _multiple_variants(hygiene: ExposureHygiene) -> HealthCheck:
    count = hygiene.multi_variant_units
    people = hygiene.units + count
    share = _share(count, people)
    status = _graded(share, MULTI_VARIANT_WARNING, MULTI_VARIANT_ALARM, below=False)
    values = {"multi_variant_units": count, "identities": people, "share": share}
    title = "Units exposed to more than one variant"
    if not count:
        detail = "No unit was exposed to more than one variant."
        return HealthCheck("multiple_variants", status, title, detail, values)
    detail = (
        f"{count:,} of {people:,} units ({share:.1%}) saw more than one variant; they are left "
        "out of the results."
    )
    if status != "ok":
        limit = MULTI_VARIANT_ALARM if status == "alarm" else MULTI_VARIANT_WARNING
        detail += (
            f" That is more than {limit:.0%}: check that every surface asks for the variant with "
            "the same unit id, and that the split was not changed while the experiment ran."
        )
    return HealthCheck("multiple_variants", status, title, detail, values)


def _crawlers(hygiene: ExposureHygiene) -> HealthCheck:
    crawlers, mixed, everyone = (
        hygiene.crawler_units,
        hygiene.crawler_and_person_units,
        hygiene.identities,
    )
    share, mixed_share = _share(crawlers, everyone), _share(mixed, everyone)
    status: Status = "warning" if mixed_share > CRAWLER_AND_PERSON_WARNING else "ok"
    values = {
        "crawler_units": crawlers,
        "crawler_and_person_units": mixed,
        "identities": everyone,
        "share": share,
    }
    title = "Crawlers"
    if not crawlers:
        detail = "No crawler was exposed to the experiment."
        return HealthCheck("crawlers", status, title, detail, values)
    detail = (
        f"{crawlers:,} of {everyone:,} exposed identities ({share:.1%}) were crawlers; they "
        "always see control and are left out of the results."
    )
    if mixed:
        detail += (
            f" {mixed:,} of them ({mixed_share:.1%} of all identities) were also seen with a "
            "person's browser; the whole identity is left out."
        )
    if status != "ok":
        detail += (
            " That many suggests the unit id mixes people with bots (a shared device id, a "
            "prerender service)."
        )
    return HealthCheck("crawlers", status, title, detail, values)


def _sample_ratio(totals: Mapping[str, VariantTotals], weights: Sequence[float]) -> HealthCheck:
    units = {name: t.units for name, t in totals.items()}
    title = "Split of units between variants"
    if not sum(units.values()):
        values: dict[str, Any] = {"units_per_variant": units, "p_value": None}
        return HealthCheck("sample_ratio", "ok", title, "No units yet.", values)
    srm = srm_check(list(units.values()), weights)
    status = _graded(srm.p_value, SRM_WARNING, SRM_ALARM, below=True)
    total = sum(units.values())
    shares = [w / sum(weights) for w in weights]
    observed = ", ".join(
        f"{name} {n:,} ({n / total:.1%}, planned {w:.0%})"
        for (name, n), w in zip(units.items(), shares, strict=True)
    )
    values = {
        "units_per_variant": units,
        "weights": list(weights),
        "chi2": srm.chi2,
        "p_value": srm.p_value,
    }
    if status == "ok":
        detail = f"Units per variant fit the planned split: {observed}; p = {srm.p_value:.2g}."
    elif status == "warning":
        detail = (
            f"Units per variant drift from the planned split: {observed}; p = {srm.p_value:.2g}. "
            "Check assignment and exposure logging before relying on the results."
        )
    else:
        detail = (
            f"Sample ratio mismatch: {observed}; p = {srm.p_value:.2g}. Results cannot be "
            "trusted until the cause is found."
        )
    return HealthCheck("sample_ratio", status, title, detail, values)


@dataclass(frozen=True)
class _Covariate:
    """A CUPED covariate over every unit, as a mean (a 0/1 value's mean is its share)."""

    field: str
    what: str  # what its mean is, for a sentence
    percent: bool
    stats: Callable[[VariantTotals], MeanStats]


_COVARIATES = (
    _Covariate(
        "pre_value",
        "activity value",
        False,
        lambda t: MeanStats(n=t.units, sum=t.units_pre_sum, sum_squares=t.units_pre_sum_squares),
    ),
    _Covariate(
        "pre_converted",
        "share that booked",
        True,
        lambda t: ProportionStats(n=t.units, conversions=t.units_pre_conversions).as_mean(),
    ),
)


def _pre_period_balance(totals: Mapping[str, VariantTotals]) -> HealthCheck:
    """Every covariate of every treatment against control; the worst comparison decides."""
    names = list(totals)
    control_name = names[0]
    title = "Balance before the experiment"
    found: list[tuple[_Covariate, dict[str, dict[str, float]]]] = []
    for covariate in _COVARIATES:
        compared: dict[str, dict[str, float]] = {}
        for name in names[1:]:
            try:
                control = covariate.stats(totals[control_name])
                treatment = covariate.stats(totals[name])
                p_value = welch_test(control, treatment).p_value
            except InputError:  # fewer than 2 units in an arm, or no spread at all
                continue
            compared[name] = {
                "control_mean": control.mean,
                "mean": treatment.mean,
                "p_value": p_value,
            }
        if compared:
            found.append((covariate, compared))
    if not found:
        detail = "Not enough units yet to compare the variants before exposure."
        return HealthCheck("pre_period_balance", "ok", title, detail, {"variants": {}})
    covariate, compared = min(found, key=lambda pair: min(c["p_value"] for c in pair[1].values()))
    values: dict[str, Any] = {"covariate": covariate.field, "variants": compared}
    worst_name = min(compared, key=lambda name: compared[name]["p_value"])
    worst = compared[worst_name]
    status = _graded(worst["p_value"], BALANCE_WARNING, BALANCE_ALARM, below=True)
    shown = "{:.1%}" if covariate.percent else "{:,.2f}"
    means = (
        f"{worst_name} {shown.format(worst['mean'])} against {control_name} "
        f"{shown.format(worst['control_mean'])} {covariate.what} in the {OUTCOME_DAYS} days "
        f"before exposure; p = {worst['p_value']:.2g}"
    )
    if status == "ok":
        detail = f"The variants' units were alike before the experiment ({means})."
    else:
        detail = (
            f"The variants' units already differed before the experiment ({means}). Assignment "
            "may not be random; the CUPED adjustment corrects part of it, but check assignment "
            "before relying on the results."
        )
    return HealthCheck("pre_period_balance", status, title, detail, values)


def _outcome_windows(totals: Mapping[str, VariantTotals]) -> HealthCheck:
    units = sum(t.units for t in totals.values())
    matured = sum(t.matured_units for t in totals.values())
    values = {"all_units": units, "matured_units": matured, "outcome_days": OUTCOME_DAYS}
    title = f"{OUTCOME_DAYS}-day outcome windows"
    if units == matured:
        detail = f"Every unit's {OUTCOME_DAYS} days after first exposure have passed."
    else:
        detail = (
            f"{matured:,} of {units:,} units have had {OUTCOME_DAYS} days since their first "
            f"exposure; only they count toward the {OUTCOME_DAYS}-day outcomes (conversion, "
            "activity value). The others still count in the split."
        )
    return HealthCheck("outcome_windows", "ok", title, detail, values)
