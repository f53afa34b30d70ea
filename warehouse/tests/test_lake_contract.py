import io

from django.conf import settings
from django.core.management import call_command

from portal.roles import Access
from warehouse.lake.contract import TABLES, Layer, partitioned_tables, table
from warehouse.management.commands.lake_contract import DOC_PATH, render_contract


def test_the_committed_doc_is_the_generated_one():
    committed = (settings.BASE_DIR / DOC_PATH).read_text()
    assert committed == render_contract(), "run: manage.py lake_contract --write"


def test_the_command_prints_the_doc():
    out = io.StringIO()
    call_command("lake_contract", stdout=out)
    assert out.getvalue() == render_contract()


def test_the_doc_lists_every_table_column_and_restriction():
    doc = render_contract()
    for t in TABLES.values():
        assert f"### `{t.name}`" in doc
        for column in t.columns:
            assert f"| `{column.name}` | {column.type} |" in doc, (t.name, column.name)
    assert "Access: **finance**" in doc and "Written by: portal" in doc


def test_every_column_holding_an_identity_or_user_id_is_marked():
    for t in TABLES.values():
        holds_ids = {c.name for c in t.columns if c.name.endswith(("identity_id", "user_id"))}
        assert set(t.identity_columns) == holds_ids, t.name


def test_restricted_tables_belong_to_their_role():
    expected = {
        "fin_refunds": Access.FINANCE,
        "fin_disputes": Access.FINANCE,
        "fin_chargebacks": Access.FINANCE,
        "support_tickets": Access.SUPPORT,
        "support_dmca_notices": Access.SUPPORT,
        "consent_changes": Access.PRIVACY,
    }
    assert {n: t.access for n, t in TABLES.items() if t.access != Access.GENERAL} == expected


def test_dimensions_are_unpartitioned_and_everything_else_is_by_event_dt():
    assert set(TABLES) - set(partitioned_tables()) == {"dim_listings", "dim_identities"}
    assert set(partitioned_tables().values()) == {"event_dt"}
    assert all(t.columns[-1].type == "date" for t in TABLES.values() if t.partition_column)


def test_layers_writers_and_lookup():
    assert {n for n, t in TABLES.items() if t.layer == Layer.BRONZE} == {
        "raw_events",
        "dead_letter_events",
    }
    assert {n for n, t in TABLES.items() if t.writer == "portal"} == {"fact_experiment_result"}
    assert table("FACT_BOOKINGS") is TABLES["fact_bookings"]
