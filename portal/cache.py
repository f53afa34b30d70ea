"""The shared cache on Redis, tolerant of Redis being away.

Everything the portal keeps in this cache can be computed again (results, consent decisions,
assignment configs, page fragments), so while Redis is unreachable a read is a miss and a write
is skipped (logged), and pages and APIs go on from the database and the warehouse. Django's
RedisCache has no such option; django-redis has one (IGNORE_EXCEPTIONS) but would replace the
whole backend for it. Sessions do not live here (SESSION_ENGINE is db): a skipped delete must
never bring a logged-out session back when Redis returns."""

import logging
import time
from functools import partial

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (ConnectionError, TimeoutError)
# After a failure, reads miss at once for this long instead of each waiting for a connect
# timeout. Writes always try: an invalidation (consent, assignment) is never skipped by choice.
READS_AWAY_SECONDS = 5.0


class TolerantRedisCache(RedisCache):
    _reads_away_until = 0.0

    def ping(self) -> None:
        """Raises what keeps Redis away (for /healthz), where the other methods shrug."""
        self._cache.get_client(write=True).ping()

    def _read(self, operation: str, default, call):
        if time.monotonic() < self._reads_away_until:
            return default
        return self._tolerant(operation, default, call)

    def _tolerant(self, operation: str, default, call):
        try:
            return call()
        except UNREACHABLE as err:
            self._reads_away_until = time.monotonic() + READS_AWAY_SECONDS
            logger.warning("Cache unreachable, %s skipped: %s", operation, err)
            return default

    def get(self, key, default=None, version=None):
        return self._read("get", default, partial(super().get, key, default, version))

    def get_many(self, keys, version=None):
        return self._read("get_many", {}, partial(super().get_many, keys, version))

    def has_key(self, key, version=None):
        return self._read("has_key", False, partial(super().has_key, key, version))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # False: as if someone else held the key (a lock taken with add stays not taken).
        return self._tolerant("add", False, partial(super().add, key, value, timeout, version))

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._tolerant("set", None, partial(super().set, key, value, timeout, version))

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        call = partial(super().set_many, data, timeout, version)
        return self._tolerant("set_many", list(data), call)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._tolerant("touch", False, partial(super().touch, key, timeout, version))

    def delete(self, key, version=None):
        return self._tolerant("delete", False, partial(super().delete, key, version))

    def delete_many(self, keys, version=None):
        self._tolerant("delete_many", None, partial(super().delete_many, keys, version))
