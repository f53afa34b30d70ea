from datetime import date

from django.core.management.base import BaseCommand, CommandError

from privacy import services
from privacy.payload_check import PII_KEY, PII_VALUE, UNREGISTERED_KEY, ValueSampleFailed
from warehouse.services import QueryFailed


def describe(violation: dict) -> str:
    """What is wrong with one key, in words, counts only (no value is ever printed)."""
    reasons = []
    if UNREGISTERED_KEY in violation["kinds"]:
        versions = ", ".join(
            "no version" if v is None else f"v{v}" for v in violation["unregistered_versions"]
        )
        reasons.append(f"not in the schema ({versions}: {violation['unregistered_events']})")
    if PII_KEY in violation["kinds"]:
        reasons.append("PII-looking key off the allowlist")
    if PII_VALUE in violation["kinds"]:
        hits = ", ".join(f"{kind} {n}" for kind, n in violation["value_hits"].items())
        reasons.append(f"PII-looking values ({hits} of {violation['values_sampled']} sampled)")
    return "; ".join(reasons)


class Command(BaseCommand):
    help = (
        "Check raw_events payloads: keys against their event version's schema and the PII "
        "allowlist, a sample of values against the e-mail, phone, card and IBAN detectors."
    )

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
        except ValueSampleFailed as err:
            raise CommandError(f"the payload value sample failed: {err}") from None
        for v in scan.violations:
            self.stdout.write(f"{v['event_name']}\t{v['key']}\t{v['events']}\t{describe(v)}")
        counts = {
            kind: sum(kind in v["kinds"] for v in scan.violations)
            for kind in (UNREGISTERED_KEY, PII_KEY, PII_VALUE)
        }
        total = len(scan.violations)
        self.stdout.write(
            f"{total} key{'' if total == 1 else 's'} with violations: "
            f"{counts[UNREGISTERED_KEY]} not in their schema, "
            f"{counts[PII_KEY]} PII-looking off the allowlist, "
            f"{counts[PII_VALUE]} with PII-looking values"
        )
