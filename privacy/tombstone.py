"""Keyed hashes for erasure: the tombstone that replaces erased ids and the subject hash the
audit log keeps instead of them. Pure functions; the key is the caller's (settings)."""

import hashlib
import hmac

TOMBSTONE_PREFIX = "erased:"


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def tombstone(key: str, request_id: int) -> str:
    """The value every erased id of request ``request_id`` becomes.

    Derived from the request, never from the ids, so it reveals nothing of them; the same for
    every row of the request, so erased rows still count as one subject."""
    return TOMBSTONE_PREFIX + _mac(key, f"dsar-request:{request_id}")[:24]


def id_hash(key: str, value: str) -> str:
    """A keyed hash of one id: whoever holds the key can check whether that id was erased;
    the hash alone tells nothing."""
    return _mac(key, f"subject-id:{value}")
