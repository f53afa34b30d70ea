"""The per-process cache (settings.CACHES["local"]): derived values that hold no user data and
no row of the lake, such as rendered dashboard tiles and result headlines. Cheap to recompute,
so each process keeps its own; keys name everything the value depends on, and a deploy (new
templates, new code) restarts the processes."""

from django.core.cache import BaseCache, caches

ALIAS = "local"


def local_cache() -> BaseCache:
    return caches[ALIAS]
