import difflib

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from portal.roles import Capability, may
from warehouse.lake import contract, retention


class PrivacyConfig(AppConfig):
    name = "privacy"

    def ready(self) -> None:
        # Here, not at the top: models may be imported only once the app registry is ready.
        from privacy import account_audit, log_filters
        from warehouse.selectors import run_page_register

        checks.register(check_settings)
        account_audit.connect()
        log_filters.install_gunicorn()
        # The PII check and the consent import are the privacy team's pages: so are their runs.
        run_page_register(
            label_prefix="privacy:",
            may_open=lambda user: may(user, Capability.PRIVACY),
        )


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """RETENTION_TABLE_MONTHS names real tables with months of 0 (forever) or more: a typo
    found at start, not by the daily retention run or the retention page."""
    policy = retention.Policy(
        layer_months=settings.PRIVACY_RETENTION_LAYER_MONTHS,
        table_months=settings.PRIVACY_RETENTION_TABLE_MONTHS,
    )
    errors = []
    for table in policy.unknown_tables():
        close = difflib.get_close_matches(table, contract.TABLES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        message = (
            f"RETENTION_TABLE_MONTHS: unknown table {table!r} (not in the lake contract{hint})"
        )
        errors.append(checks.Error(message, id="privacy.E001"))
    for table, months in sorted(policy.table_months.items()):
        if not isinstance(months, int) or months < 0:
            message = (
                f"RETENTION_TABLE_MONTHS: {table}={months}: months must be 0 (forever) or more"
            )
            errors.append(checks.Error(message, id="privacy.E002"))
    return errors
