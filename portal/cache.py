"""The shared cache on Redis, tolerant of Redis being away.

Everything the portal keeps in this cache can be computed again (results, consent decisions,
assignment configs, page fragments), so while Redis is unreachable a read is a miss and a write
is skipped (logged), and pages and APIs go on from the database and the warehouse. Django's
RedisCache has no such option; django-redis has one (IGNORE_EXCEPTIONS) but would replace the
whole backend for it. Sessions do not live here (SESSION_ENGINE is db): a skipped delete must
never bring a logged-out session back when Redis returns."""

import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError, TimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (ConnectionError, TimeoutError)


def _skipped(operation: str, err: Exception) -> None:
    logger.warning("Cache unreachable, %s skipped: %s", operation, err)


class TolerantRedisCache(RedisCache):
    def ping(self) -> None:
        """Raises what keeps Redis away (for /healthz), where the other methods shrug."""
        self._cache.get_client(write=True).ping()

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as err:
            _skipped("get", err)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as err:
            _skipped("get_many", err)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as err:
            _skipped("has_key", err)
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # False: as if someone else held the key (a lock taken with add stays not taken).
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as err:
            _skipped("add", err)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as err:
            _skipped("set", err)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as err:
            _skipped("set_many", err)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as err:
            _skipped("touch", err)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNREACHABLE as err:
            _skipped("delete", err)
            return False

    def delete_many(self, keys, version=None):
        try:
            super().delete_many(keys, version)
        except UNREACHABLE as err:
            _skipped("delete_many", err)
