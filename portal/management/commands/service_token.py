from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.models import ServiceToken


class Command(BaseCommand):
    help = "Create, list or revoke API tokens of service accounts (apps)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; it is printed once")
        create.add_argument("name")
        create.add_argument(
            "--scope", action="append", required=True, choices=ServiceToken.SCOPES, dest="scopes"
        )
        sub.add_parser("list")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("name")

    def handle(self, *args, action: str, **options):
        if action == "create":
            if ServiceToken.objects.filter(name=options["name"]).exists():
                raise CommandError(f"a service token named {options['name']!r} already exists")
            token = ServiceToken.generate()
            ServiceToken.objects.create(
                name=options["name"],
                token_hash=ServiceToken.hash(token),
                scopes=sorted(set(options["scopes"])),
            )
            self.stdout.write(token)
        elif action == "list":
            for t in ServiceToken.objects.order_by("name"):
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                self.stdout.write(f"{t.name}\t{','.join(t.scopes)}\t{state}")
        else:
            updated = ServiceToken.objects.filter(
                name=options["name"], revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
            if not updated:
                raise CommandError(f"no active service token named {options['name']!r}")
            self.stdout.write(f"revoked {options['name']}")
