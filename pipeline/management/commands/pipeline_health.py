"""Run the pipeline health checks now: ``manage.py pipeline_health [--days 90] [--as-of ...]``.

Celery beat runs them every PIPELINE_HEALTH_INTERVAL_SECONDS over the last
PIPELINE_HEALTH_DAYS days; this command backfills a longer history or re-runs after a fix.
"""

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline import services
from pipeline.models import CheckState, HealthRun

MAX_DAYS = 400


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be an ISO date-time, got {value!r}.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Run the pipeline health checks now and print each check's status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="days to recompute")
        parser.add_argument("--as-of", default=None, help="evaluate as of this UTC time")
        parser.add_argument("--force", action="store_true", help="bypass cached query results")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is not None and not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS}, got {days}.")
        run = services.health_run(
            as_of=_as_of(options["as_of"]), days=days, force_refresh=options["force"]
        )
        if run.outcome == HealthRun.Outcome.FAILED:
            raise CommandError(f"The health checks failed: {run.error}")
        for state in CheckState.objects.all():
            self.stdout.write(
                f"{state.name:<13} {state.status:<8} {state.value_display:>10} "
                f"(budget {state.budget_display}) {state.summary}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Health run {run.pk} as of {run.as_of:%Y-%m-%d %H:%M} UTC done.")
        )
