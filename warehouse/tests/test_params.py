from datetime import date, datetime

import pytest

from core.errors import InputError
from warehouse.params import decode, encode


def test_round_trip_keeps_python_types():
    values = {
        "start": date(2026, 1, 1),
        "at": datetime(2026, 1, 1, 12, 30),
        "n": 3,
        "share": 0.25,
        "flag": True,
        "name": "o'brien",
    }
    assert decode(encode(values)) == values
    assert type(decode(encode({"flag": True}))["flag"]) is bool


def test_bare_json_scalars_are_accepted():
    assert decode({"n": 3, "s": "x", "b": False}) == {"n": 3, "s": "x", "b": False}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"start": {"type": "date", "value": "2026-13-01"}}, "params.start.value"),
        ({"start": {"type": "date", "value": 20260101}}, "params.start.value"),
        ({"n": {"type": "int", "value": "three"}}, "params.n.value"),
        ({"n": {"type": "int", "value": True}}, "params.n.value"),
        ({"b": {"type": "bool", "value": "yes"}}, "params.b.value"),
        ({"x": {"type": "uuid", "value": "a"}}, "params.x.type"),
        ({"x": [1, 2]}, "params.x"),
        ([1, 2], "params"),
    ],
)
def test_bad_values_name_their_field(raw, field):
    with pytest.raises(InputError) as info:
        decode(raw)
    assert info.value.field == field
