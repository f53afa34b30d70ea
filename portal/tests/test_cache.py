import time

import pytest
from django.core.cache import caches
from django.test import override_settings

from portal import cache as tolerant

CLOSED_PORT = {
    "default": {
        "BACKEND": "portal.cache.TolerantRedisCache",
        "LOCATION": "redis://127.0.0.1:6417/0",
    }
}


@override_settings(CACHES=CLOSED_PORT)
def test_with_redis_away_reads_miss_and_writes_are_skipped(caplog):
    cache = caches["default"]
    assert cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.has_key("k") is False
    assert cache.add("lock", 1) is False
    cache.set("k", 1)
    assert cache.set_many({"a": 1}) == ["a"]
    assert cache.delete("k") is False
    cache.delete_many(["a"])
    assert "Cache unreachable, get skipped: Error 111" in caplog.text
    with pytest.raises(tolerant.ConnectionError):
        cache.ping()


@override_settings(CACHES=CLOSED_PORT)
def test_after_a_failure_reads_miss_at_once_but_writes_still_try(monkeypatch):
    cache = caches["default"]
    cache.get("k")
    tries = []
    monkeypatch.setattr(cache._cache, "get_client", lambda *a, **k: tries.append(k) or 1 / 0)
    started = time.monotonic()
    assert cache.get("k") is None and cache.get_many(["k"]) == {}
    assert time.monotonic() - started < 0.1
    assert tries == []  # not even tried
    with pytest.raises(ZeroDivisionError):
        cache.delete("k")  # an invalidation is always attempted
    assert tries == [{"write": True}]
