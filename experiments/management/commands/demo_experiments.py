"""Register the demo lake's experiments as running and compute their results (idempotent).

The variants, weights and start days come from the lake generator's own definitions
(demo_lake.exposures.EXPERIMENTS) and the lake's marker file, so the results page shows
the numbers of the lake as built; the plans are sized for the lake's scale.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import InputError
from experiments import services
from experiments.models import Experiment
from experiments.results import results_compute
from experiments.stats import mde
from warehouse.management.commands.demo_lake import read_marker


@dataclass(frozen=True)
class Plan:
    name: str
    hypothesis: str
    surfaces: tuple[str, ...]
    primary: str
    secondary: tuple[str, ...]
    guardrails: tuple[str, ...]
    baseline: float
    std: float | None
    correlation: float
    mde_rel: float
    units_per_day: float  # first exposures a day at lake scale 1
    max_days: int


PLANS = {
    "search_ranking_v2": Plan(
        "Search ranking v2",
        "Ranking listings by recent responsiveness makes searchers more active afterwards.",
        ("search_results",),
        "outcome_value",
        ("conversion", "search_to_view_ctr"),
        ("view_to_message_rate",),
        25.0,
        16.5,
        0.6,
        0.03,
        1_130,
        28,
    ),
    "checkout_button_color": Plan(
        "Checkout button colour",
        "A high-contrast booking button on listing pages lifts bookings.",
        ("profile_page", "studio_page"),
        "conversion",
        ("checkout_completion_rate",),
        ("outcome_value", "refund_rate"),
        0.069,
        None,
        0.0,
        0.10,
        755,
        60,
    ),
    "pricing_page_3way": Plan(
        "Pricing page: three layouts",
        "A shorter pricing page (b) or one with a comparison table (c) converts better.",
        ("pricing_page",),
        "conversion",
        (),
        ("outcome_value",),
        0.068,
        None,
        0.0,
        0.20,
        335,
        60,
    ),
}


class Command(BaseCommand):
    help = "Register the demo lake's experiments as running and compute their results."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="pm", help="username of the owner (default pm)")
        parser.add_argument("--root", default=None, help="demo lake directory (default LAKE_ROOT)")

    def handle(self, *args, owner: str, root: str | None, **options):
        # The demo generator is demo-only code outside the apps: imported when this command runs.
        from demo_lake.exposures import EXPERIMENTS

        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise CommandError(f"no user {owner!r}: run manage.py demo_users first, or --owner")
        lake = Path(root or settings.LAKE_ROOT)
        marker = read_marker(lake)
        if marker is None:
            raise CommandError(f"no demo lake at {lake}: run manage.py demo_lake first")
        days = int(marker["days"])
        first_day = datetime.fromisoformat(marker["end_date"]).date() - timedelta(days=days - 1)
        for spec in EXPERIMENTS:
            if Experiment.objects.filter(key=spec.key).exists():
                self.stdout.write(f"{spec.key}: already registered")
                continue
            plan = PLANS[spec.key]
            started = first_day + timedelta(days=int(days * spec.start_share))
            experiment = self._register(spec, plan, user, float(marker["scale"]), started)
            computation = results_compute(experiment_id=experiment.pk)
            state = computation.status if computation else "no results"
            self.stdout.write(f"{spec.key}: running since {started}, results {state}")

    def _register(self, spec, plan: Plan, user, scale: float, started) -> Experiment:
        variants = list(zip(spec.variants, spec.weights, strict=True))
        daily = max(1, round(plan.units_per_day * scale))
        kind = "mean" if plan.std is not None else "proportion"
        try:
            needed = mde(
                kind, plan.baseline, spec.weights, daily, mde_rel=plan.mde_rel,
                std=plan.std, correlation=plan.correlation,
                comparisons=len(spec.variants) - 1,  # Holm, the default correction
            ).days  # fmt: skip
        except InputError as err:
            raise CommandError(f"{spec.key}: the demo plan is wrong: {err}") from None
        fields = {
            "key": spec.key,
            "name": plan.name,
            "hypothesis": plan.hypothesis,
            "targeted_surfaces": list(plan.surfaces),
            "primary_metric": plan.primary,
            "secondary_metrics": list(plan.secondary),
            "guardrail_metrics": list(plan.guardrails),
            "alpha": 0.05,
            "power": 0.8,
            "mde_rel": plan.mde_rel,
            "baseline": plan.baseline,
            "baseline_std": plan.std,
            "expected_correlation": plan.correlation,
            # A small demo lake has little traffic: the plan allows what its scale needs.
            "max_duration_days": max(plan.max_days, math.ceil(needed)),
            "expected_daily_units": daily,
        }
        experiment = services.experiment_create(
            user=user, owner=user, fields=fields, variants=variants
        )
        return services.experiment_launch(
            experiment=experiment,
            user=user,
            started_at=datetime(started.year, started.month, started.day, tzinfo=UTC),
        )
