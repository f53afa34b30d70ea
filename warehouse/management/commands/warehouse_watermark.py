from datetime import date

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from core.engines import REMOTE_ENGINES
from warehouse.lake.storage import Watermark
from warehouse.watermark import REMOTE_KEY


class Command(BaseCommand):
    help = (
        "Tell the portal that a remote warehouse's data changed (run it after each load), so "
        "cached results computed on older data are no longer served."
    )

    def add_arguments(self, parser):
        parser.add_argument("--engine", required=True, choices=REMOTE_ENGINES)
        parser.add_argument("--max-partition", required=True, help="newest partition, YYYY-MM-DD")
        parser.add_argument("--load-id", required=True, help="an id of the load, e.g. its run id")

    def handle(self, *args, engine: str, max_partition: str, load_id: str, **options):
        try:
            date.fromisoformat(max_partition)
        except ValueError:
            raise CommandError(
                f"--max-partition must be YYYY-MM-DD, got {max_partition!r}"
            ) from None
        cache.set(REMOTE_KEY.format(engine=engine), Watermark(load_id, max_partition), timeout=None)
        self.stdout.write(f"{engine} watermark is now {load_id} ({max_partition})")
