"""The hard-coded PII allowlist: the only personal-data keys an event payload may carry.

Any other key that looks like personal data is a violation: reported by the schema check and
dead-lettered by the pipeline. Changing this list is a code change, reviewed like one.
"""

import re
from collections.abc import Iterable

# Pseudonymous identifiers and coarse location: what analytics needs, nothing that names a person.
ALLOWED_PII_KEYS: frozenset[str] = frozenset(
    {"identity_id", "user_id", "session_id", "country", "city", "locale", "user_agent"}
)

# Key names that suggest personal data (matched on the lower-cased key, at word boundaries).
PII_LIKE = re.compile(
    r"(^|_)(e?mail|phone|mobile|msisdn|first_?name|last_?name|full_?name|surname|name|address|"
    r"street|postcode|zip|ip|ip_?address|ssn|passport|birth|dob|iban|card|pan|lat|lng|lon|"
    r"latitude|longitude|geo|identity|user|session|country|city|locale|agent)($|_)"
)


def looks_like_pii(key: str) -> bool:
    return bool(PII_LIKE.search(key.lower()))


def pii_violations(keys: Iterable[str]) -> list[str]:
    """Keys that look like personal data and are not on the allowlist, sorted."""
    return sorted({k for k in keys if looks_like_pii(k) and k not in ALLOWED_PII_KEYS})
