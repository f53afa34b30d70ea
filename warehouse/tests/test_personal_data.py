"""Personal data masked in query results before they are cached (warehouse.personal_data)."""

import pandas as pd
import pytest

from warehouse.lake import contract
from warehouse.personal_data import FREE_TEXT_COLUMNS, reads_free_text, result_masked
from warehouse.sql import parse

WINDOW = "WHERE event_dt BETWEEN :start AND :end"


@pytest.mark.parametrize(
    ("sql", "reads"),
    [
        (f"SELECT payload FROM dead_letter_events {WINDOW}", True),
        (f"SELECT reason, payload AS p FROM dead_letter_events {WINDOW}", True),
        (f"SELECT lower(payload) AS x FROM raw_events {WINDOW}", True),
        (f"WITH r AS (SELECT payload FROM raw_events {WINDOW}) SELECT * FROM r", True),
        (f"SELECT * FROM dead_letter_events {WINDOW}", True),
        (f"SELECT d.* FROM dead_letter_events d {WINDOW}", True),
        (f"SELECT reason, count(*) AS n FROM dead_letter_events {WINDOW} GROUP BY 1", False),
        (f"SELECT * FROM fact_funnel_events {WINDOW}", False),
    ],
)
def test_a_query_reading_a_payload_is_recognised_however_it_is_written(sql, reads):
    assert reads_free_text(parse(sql)) is reads


def test_every_text_value_of_such_a_result_is_masked_and_others_are_kept():
    frame = pd.DataFrame(
        {
            "reason": ["pii_key_not_allowed:email", None],
            "payload": [
                '{"email":"a@b.example","ip":"10.0.0.1","path":"/x"}',
                "call 030 1234 5678",
            ],
            "events": [3, 4],
        }
    )
    sql = parse(f"SELECT reason, payload, 1 AS events FROM dead_letter_events {WINDOW}")
    masked = result_masked(sql, frame)
    assert masked["payload"].tolist() == ['{"email":"***","ip":"***","path":"/x"}', "call ***"]
    assert masked["reason"].tolist()[0] == "pii_key_not_allowed:email"
    assert masked["reason"].isna().tolist() == [False, True]
    assert masked["events"].tolist() == [3, 4]
    assert frame["payload"][0].startswith('{"email":"a@b')  # the engine's frame is left alone
    other = parse(f"SELECT event_name FROM fact_funnel_events {WINDOW}")
    assert result_masked(other, frame) is frame


def test_the_free_text_columns_are_columns_of_the_contract():
    for table, columns in FREE_TEXT_COLUMNS.items():
        assert columns <= set(contract.table(table).column_names), table
