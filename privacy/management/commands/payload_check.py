from datetime import date

from django.core.management.base import BaseCommand, CommandError

from privacy import services
from warehouse.services import QueryFailed


class Command(BaseCommand):
    help = "Check raw_events payload keys against the PII allowlist; prints the violations."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, help="YYYY-MM-DD")
        parser.add_argument("--end", required=True, help="YYYY-MM-DD")

    def handle(self, *args, start: str, end: str, **options):
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise CommandError("--start and --end must be YYYY-MM-DD") from None
        if first > last:
            raise CommandError("--start must not be after --end")
        try:
            scan = services.payload_scan_run(start=first, end=last)
        except QueryFailed as err:
            raise CommandError(f"the payload query failed: {err}") from None
        for v in scan.violations:
            self.stdout.write(f"{v['event_name']}\t{v['key']}\t{v['events']}")
        self.stdout.write(f"{len(scan.violations)} PII-looking keys off the allowlist")
