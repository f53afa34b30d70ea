"""Typed query parameters: how they travel as JSON (API bodies, QueryRun rows, task messages)
and come back as the Python values the drivers bind."""

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from core.errors import InputError

TYPES = ("date", "timestamp", "int", "float", "str", "bool")


def _encode_one(value: Any) -> dict[str, Any]:
    # bool before int: True is an int in Python, but not in SQL.
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, datetime):
        return {"type": "timestamp", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    raise InputError("params", f"unsupported type {type(value).__name__}")


def encode(params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: _encode_one(value) for name, value in sorted(params.items())}


def _decode_one(field: str, spec: Any) -> Any:
    if not isinstance(spec, dict):
        # A bare JSON value: its JSON type is its type.
        if isinstance(spec, bool | int | float | str):
            return spec
        raise InputError(field, 'must be a JSON scalar or {"type": ..., "value": ...}')
    kind, value = spec.get("type"), spec.get("value")
    if kind not in TYPES:
        raise InputError(f"{field}.type", f"must be one of {', '.join(TYPES)}")
    try:
        if kind == "date":
            return date.fromisoformat(value)
        if kind == "timestamp":
            return datetime.fromisoformat(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise TypeError
            return float(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        raise InputError(f"{field}.value", f"{value!r} is not a valid {kind}") from None


def decode(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError("params", "must be an object of name to value")
    return {name: _decode_one(f"params.{name}", spec) for name, spec in raw.items()}
