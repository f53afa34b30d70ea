import io

import sqlglot
from django.core.management import call_command
from sqlglot import exp

from warehouse.lake import contract


def test_prints_one_create_view_per_restricted_view_for_athena(settings):
    settings.ATHENA = {**settings.ATHENA, "database": "analytics"}
    out = io.StringIO()
    call_command("lake_views", "--dialect", "athena", stdout=out)
    statements = [s for s in sqlglot.parse(out.getvalue(), read="athena") if s is not None]
    assert [s.this.name for s in statements] == list(contract.VIEWS)
    assert all(isinstance(s, exp.Create) and s.this.db == "analytics" for s in statements)
