from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from privacy import services
from warehouse.lake.retention import ExpiredPartition


class Command(BaseCommand):
    help = (
        "Drop lake partitions past their retention (RETENTION_* settings) and, when WAREHOUSE is "
        "postgres, redshift or athena, delete the rows past it there; every deletion audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only list what would go")

    def handle(self, *args, dry_run: bool, **options):
        verb = "would drop" if dry_run else "dropped"
        try:
            result = services.retention_apply(actor="manage.py retention", dry_run=dry_run)
        except ValidationError as err:
            field, messages = next(iter(err.message_dict.items()))
            raise CommandError(f"{field}: {' '.join(messages)}") from None
        except services.RetentionRemoteFailed as err:
            # The lake's part is done (or listed): what it did comes before the error.
            self._partitions(err.partitions, verb)
            self.stdout.write(f"{len(err.partitions)} partitions {verb}")
            raise CommandError(str(err)) from None
        self._partitions(result.partitions, verb)
        remote_verb = "would delete" if dry_run else "deleted"
        for r in result.remote:
            self.stdout.write(
                f"{remote_verb}\t{r.engine}.{r.table}\t{r.rows} rows"
                f"\t(event_dt before {r.cutoff}, {r.months} months)"
            )
        if result.remote:
            self.stdout.write("then, to remove them physically:")
            for r in result.remote:
                for statement in r.followup:
                    self.stdout.write(f"  {statement}")
            rows = sum(r.rows for r in result.remote)
            self.stdout.write(
                f"{rows} rows in {len(result.remote)} tables of {result.remote[0].engine} "
                f"{'would be deleted' if dry_run else 'deleted'}"
            )
        self.stdout.write(f"{len(result.partitions)} partitions {verb}")

    def _partitions(self, partitions: list[ExpiredPartition], verb: str) -> None:
        for p in partitions:
            self.stdout.write(
                f"{verb}\t{p.table}\tevent_dt={p.partition}\t{p.files} files\t{p.bytes} bytes"
                f"\t(older than {p.cutoff}, {p.months} months)"
            )
