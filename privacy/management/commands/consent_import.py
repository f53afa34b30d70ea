from datetime import date

from django.core.management.base import BaseCommand, CommandError

from privacy import consent
from warehouse.services import QueryFailed


class Command(BaseCommand):
    help = (
        "Import the lake's consent history (consent_changes) into the portal, once per change, "
        "and recompute the consent of the identities that got new changes. The scheduled task "
        "privacy.tasks.consent_sync does this for the recent partitions."
    )

    def add_arguments(self, parser):
        earliest = consent.EARLIEST.isoformat()
        parser.add_argument("--start", default=earliest, help=f"YYYY-MM-DD (default {earliest})")
        parser.add_argument("--end", help="YYYY-MM-DD (default: today or the newest data)")

    def handle(self, *args, start: str, end: str | None, **options):
        try:
            first = date.fromisoformat(start)
            last = date.fromisoformat(end) if end else consent.newest_day()
        except ValueError:
            raise CommandError("--start and --end must be YYYY-MM-DD") from None
        if first > last:
            raise CommandError("--start must not be after --end")
        try:
            done = consent.consent_import_lake(start=first, end=last)
        except QueryFailed as err:
            raise CommandError(f"the consent query failed: {err}") from None
        self.stdout.write(
            f"{done.rows_read} consent changes read from the lake ({first} to {last}), "
            f"{done.rows_added} new"
        )
