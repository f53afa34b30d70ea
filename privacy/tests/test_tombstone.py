import hashlib
import hmac

from privacy.tombstone import TOMBSTONE_PREFIX, id_hash, tombstone


def test_tombstone_is_per_request_and_keyed():
    value = tombstone("k", 17)
    expected = hmac.new(b"k", b"dsar-request:17", hashlib.sha256).hexdigest()[:24]
    assert value == TOMBSTONE_PREFIX + expected
    assert tombstone("k", 17) == value  # the same for every row of the request
    assert tombstone("k", 18) != value and tombstone("other key", 17) != value


def test_id_hash_needs_the_key_and_tells_nothing_of_the_id():
    digest = id_hash("k", "idn_123")
    assert digest == hmac.new(b"k", b"subject-id:idn_123", hashlib.sha256).hexdigest()
    assert "idn_123" not in digest and digest != hashlib.sha256(b"idn_123").hexdigest()
    assert id_hash("k2", "idn_123") != digest
