from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from privacy import selectors, services


class Command(BaseCommand):
    help = "Drop lake partitions past their retention (RETENTION_* settings); every drop audited."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only list what would go")

    def handle(self, *args, dry_run: bool, **options):
        try:
            if dry_run:
                expired = selectors.retention_expired()
            else:
                expired = services.retention_apply(actor="manage.py retention")
        except ValidationError as err:
            field, messages = next(iter(err.message_dict.items()))
            raise CommandError(f"{field}: {' '.join(messages)}") from None
        verb = "would drop" if dry_run else "dropped"
        for p in expired:
            self.stdout.write(
                f"{verb}\t{p.table}\tevent_dt={p.partition}\t{p.files} files\t{p.bytes} bytes"
                f"\t(older than {p.cutoff}, {p.months} months)"
            )
        self.stdout.write(f"{len(expired)} partitions {verb}")
