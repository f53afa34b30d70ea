from datetime import date

from django.core.management.base import BaseCommand, CommandError

from privacy import services
from privacy.forms import data_end
from warehouse.services import QueryFailed

EARLIEST = "2000-01-01"


class Command(BaseCommand):
    help = (
        "Import the lake's consent history (consent_changes) into the portal, once per change, "
        "and recompute the consent of the identities concerned."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", default=EARLIEST, help=f"YYYY-MM-DD (default {EARLIEST})")
        parser.add_argument("--end", help="YYYY-MM-DD (default: the newest data)")

    def handle(self, *args, start: str, end: str | None, **options):
        try:
            first = date.fromisoformat(start)
            last = date.fromisoformat(end) if end else data_end()
        except ValueError:
            raise CommandError("--start and --end must be YYYY-MM-DD") from None
        if first > last:
            raise CommandError("--start must not be after --end")
        try:
            rows = services.consent_import_lake(start=first, end=last)
        except QueryFailed as err:
            raise CommandError(f"the consent query failed: {err}") from None
        self.stdout.write(f"{rows} consent changes read from the lake ({first} to {last})")
