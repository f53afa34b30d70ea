from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.roles import Role


class Command(BaseCommand):
    # The password is set without AUTH_PASSWORD_VALIDATORS on purpose ("demo" is common and
    # short): a demo-only exception, documented in the README; never run this in production.
    help = "Create one demo user per role, named after the role (idempotent). Demo only."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo", help="password for every demo user")

    @transaction.atomic
    def handle(self, *args, password: str, **options):
        for role in Role:
            group, _ = Group.objects.get_or_create(name=role.value)
            user, created = User.objects.get_or_create(
                username=role.value, defaults={"email": f"{role.value}@example.com"}
            )
            user.set_password(password)
            user.is_staff = role is Role.ADMIN
            user.is_superuser = role is Role.ADMIN
            user.save()
            user.groups.set([group])
            self.stdout.write(f"{'created' if created else 'updated'} {role.value}")
