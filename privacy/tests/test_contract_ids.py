"""The contract's id formats are the lake's: every value of every identity column of the
generated lake is an id of its column's kind, so a DSAR filed with an id of another shape (a
city name, say) is refused without refusing anyone real."""

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from warehouse.lake import contract, erasure, storage


@pytest.mark.parametrize("table", erasure.erasable_tables(), ids=lambda t: t.name)
def test_every_id_in_the_lake_has_its_columns_format(small_lake, table):
    files = storage.data_files(small_lake, table)
    for column in table.identity_columns:
        kind = contract.id_kind(column)
        values = pc.unique(
            pc.drop_null(
                pq.ParquetDataset(files).read(columns=[column]).column(column).combine_chunks()
            )
        ).to_pylist()
        wrong = [v for v in values if not contract.id_matches(kind, v)]
        assert not wrong, (table.name, column, wrong[:3])


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("identity_id", "idn_3fa9c01b2e7d", True),
        ("identity_id", "leipzig", False),
        ("identity_id", "usr_3fa9c01b2e7d", False),
        ("identity_id", "idn_3fa9c01b2e7d\n", False),
        ("user_id", "usr_0c41d9e07a55", True),
        ("user_id", "usr_0c41d9e07a5", False),
    ],
)
def test_id_formats(kind, value, ok):
    assert contract.id_matches(kind, value) is ok


def test_every_identity_column_names_its_kind():
    with pytest.raises(ValueError, match="names neither kind of id"):
        contract.id_kind("owner_email")
