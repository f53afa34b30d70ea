from django.conf import settings
from django.core.management.base import BaseCommand

from core.engines import REMOTE_ENGINES
from warehouse.engines.postgres import LAKE_SCHEMA
from warehouse.lake import contract
from warehouse.lake import views as lake_views


class Command(BaseCommand):
    help = (
        "Print the CREATE VIEW statements of the restricted views for Athena or Redshift "
        "(DuckDB defines them per query, the PostgreSQL loader creates them)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dialect", choices=REMOTE_ENGINES, required=True)
        parser.add_argument("--schema", help="default: ATHENA_DATABASE, none, or lake")

    def handle(self, *args, dialect: str, schema: str | None, **options):
        default = {"athena": settings.ATHENA["database"], "redshift": None, "postgres": LAKE_SCHEMA}
        for view in contract.VIEWS.values():
            sql = lake_views.create_view_sql(view, dialect, schema or default[dialect])
            self.stdout.write(sql + ";\n")
