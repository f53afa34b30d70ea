"""The event schema registry: ``manage.py schemas check [--base GIT_REF] [--released]`` (CI
runs it with --released)."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline import registry


class Command(BaseCommand):
    help = "Check the event schema registry: drift of required fields and the PII allowlist."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        check = actions.add_parser(
            "check",
            help="compare every version with the one before it (and, with --base, with the "
            "same file at that git revision; with --released, with the file as first "
            "committed); exit 1 on any problem",
        )
        check.add_argument("--base", default=None, help="git revision to compare with")
        check.add_argument(
            "--released",
            action="store_true",
            help="compare every committed version with the file as the commit that added it "
            "had it: an edit in place fails even after it is committed",
        )
        check.add_argument(
            "--root", default=None, help="registry folder (default PIPELINE_SCHEMA_DIR)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(options["root"] or settings.PIPELINE_SCHEMA_DIR)
        if not root.is_dir():
            raise CommandError(f"--root {root} is not a directory.")
        try:
            findings = registry.check(root, base=options["base"], released=options["released"])
        except registry.GitError as err:
            option = "--base" if options["base"] is not None else "--released"
            raise CommandError(f"{option}: {err}") from None
        for finding in findings:
            self.stderr.write(str(finding))
        if findings:
            raise CommandError(f"{len(findings)} schema problem(s) in {root}.")
        count = len(registry.load(root).schemas)
        self.stdout.write(self.style.SUCCESS(f"{count} schemas in {root}: no problems."))
