"""The hard-coded PII allowlist: the only personal-data keys an event payload may carry.

Any other key that looks like personal data is a violation: reported by the schema check and the
lake payload check; the ingest dead-letters events carrying one (pii_key_not_allowed:<key>).
Changing this list is a code change, reviewed like one.
"""

import re
from collections.abc import Iterable
from itertools import pairwise

# Pseudonymous identifiers and coarse location: what analytics needs, nothing that names a person.
ALLOWED_PII_KEYS: frozenset[str] = frozenset(
    {"identity_id", "user_id", "session_id", "country", "city", "locale", "user_agent"}
)

# Words that make a key look like personal data wherever they appear in it...
PII_WORDS = frozenset(
    {
        "email", "mail", "phone", "mobile", "telephone", "tel", "msisdn", "fax", "surname",
        "firstname", "lastname", "fullname", "middlename", "nickname",
        "address", "addr", "street", "postcode", "postal", "zip", "ip", "ipv4", "ipv6", "ssn",
        "passport", "birth", "birthday", "birthdate", "dob", "age", "gender", "sex", "iban",
        "card", "pan", "cvv", "password", "passwd", "pwd", "secret", "token", "lat", "lng",
        "lon", "latitude", "longitude", "geo", "gps", "imei", "idfa", "gaid", "fingerprint",
        "identity", "user", "username", "session", "country", "city", "locale", "agent",
    }
)  # fmt: skip
# Words before "name" that make it a person's name (a listing_name or event_name is not).
PERSON_NAME_OF = (
    "first", "last", "full", "given", "family", "middle", "maiden", "nick", "display", "legal",
    "real", "contact", "customer", "client", "guest", "host", "owner", "holder", "account",
    "billing", "shipping", "recipient", "sender", "user", "member", "person", "cardholder",
)  # fmt: skip
# ...and these only as a pair of successive words (event_name, listing_name and device_type
# are not about a person), or "name" as the whole key.
PII_PAIRS = frozenset(
    {
        *((word, "name") for word in PERSON_NAME_OF),
        ("device", "id"), ("advertising", "id"), ("ad", "id"), ("remote", "addr"),
    }
)  # fmt: skip

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def key_words(key: str) -> list[str]:
    """A key split into lower-case words: snake_case, camelCase, kebab-case and dots alike."""
    return [w.lower() for w in _WORDS.findall(key)]


def looks_like_pii(key: str) -> bool:
    words = key_words(key)
    return (
        words == ["name"]
        or any(w in PII_WORDS for w in words)
        or any(pair in PII_PAIRS for pair in pairwise(words))
    )


def pii_violations(keys: Iterable[str]) -> list[str]:
    """Keys that look like personal data and are not on the allowlist, sorted."""
    return sorted({k for k in keys if looks_like_pii(k) and k not in ALLOWED_PII_KEYS})
