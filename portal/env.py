"""Typed readers for environment variables that fail loudly, naming the variable."""

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_optional(name: str) -> str | None:
    return os.environ.get(name) or None


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}.")


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def env_list(name: str, default: tuple[str, ...] = ()) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_map(name: str, default: Mapping[str, int] | None = None) -> dict[str, int]:
    """``key=integer`` items, comma-separated, over ``default``: a key the variable does not
    name keeps its default, so setting one key never drops another's."""
    values = dict(default or {})
    for item in env_list(name):
        key, _, raw = (part.strip() for part in item.partition("="))
        if not key or not raw.removeprefix("-").isdigit():
            raise ImproperlyConfigured(f"{name} items must be name=integer, got {item!r}.")
        values[key] = int(raw)
    return values


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str | None:
    """A request rate as DRF's throttles read it, ``<count>/<period>`` (period second, minute,
    hour or day, or their first letter), or None for ``off``: no limit."""
    value = env_str(name, default).strip().lower()
    if value == "off":
        return None
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in _RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 100/minute (second, minute, hour or day) or off; "
            f"got {value!r}."
        )
    return value
