import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import LAKE_SCHEMA
from warehouse.lake.contract import UnknownTable


class Command(BaseCommand):
    help = "Copy lake tables into PostgreSQL, where WAREHOUSE=postgres reads them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dsn",
            default=settings.WAREHOUSE_POSTGRES_URL,
            help="PostgreSQL URL (default: WAREHOUSE_POSTGRES_URL)",
        )
        parser.add_argument(
            "--tables",
            help="comma-separated table names (default: all; a table the portal writes, "
            "fact_experiment_result, only while missing)",
        )
        parser.add_argument(
            "--schema", default=LAKE_SCHEMA, help=f"target schema (default: {LAKE_SCHEMA})"
        )

    def handle(self, *args, dsn: str | None, tables: str | None, schema: str, **options):
        if not dsn:
            raise CommandError("No PostgreSQL URL: pass --dsn or set WAREHOUSE_POSTGRES_URL.")
        names = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
        try:
            loaded = load_lake(dsn, settings.LAKE_ROOT, names, schema=schema)
        except UnknownTable as err:
            raise CommandError(
                f"Unknown table {err.args[0]!r}: it is not in the lake contract."
            ) from None
        except (psycopg.Error, ValueError) as err:
            # psycopg messages can run over several lines; the first one says what went wrong.
            first_line = next(iter(str(err).strip().splitlines()), type(err).__name__)
            raise CommandError(f"Cannot load the lake into PostgreSQL: {first_line}") from None
        for name, rows in loaded.items():
            self.stdout.write(f"{name}: {rows} rows")
