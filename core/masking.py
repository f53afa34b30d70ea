"""Masking personal data in payloads: rejected ones before anyone sees them, and those of a
subject's rows when a DSAR erases the subject. Pure; no Django, no I/O.

Two nets: the value of every key the PII allowlist flags (a key that looks like personal data
and is not allowlisted), and every value that looks like an email address, a phone number or an
IP address, wherever it is. Dead-lettered payloads are often not valid JSON (truncated, too
large), so the same rules also run over the raw text.
"""

import json
import re
from typing import Any

from core.pii import pii_violations

MASK = "***"
MAX_CHARS = 400  # a sample is for reading, not for reconstructing a 1 MB payload

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Not inside a word: the digits of a tombstone (erased:…), an id (usr_000123456789) or a
# timestamp's date and hour ("2026-01-25 10:11") are not a phone number.
_PHONE = re.compile(r"(?<![\w:])\+?\d[\d ()./-]{6,}\d(?![\w:])")
PHONE_DIGITS = 9  # fewer digits is a date, an amount or a count, not a phone number
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_QUOTED_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)')


def _flagged(key: str) -> bool:
    return bool(pii_violations([key]))


def mask_text(text: str) -> str:
    """Emails, phone numbers and IP addresses anywhere in ``text``."""
    text = _IPV4.sub(MASK, _EMAIL.sub(MASK, text))
    return _PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match) -> str:
    digits = sum(c.isdigit() for c in match.group(0))
    return MASK if digits >= PHONE_DIGITS else match.group(0)


def _mask_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _flagged(k) else _mask_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_personal_data(payload: str) -> str:
    """The whole payload with personal data masked (JSON stays JSON); the very same text when
    there is nothing to mask."""
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict | list):
        return mask_text(_QUOTED_PAIR.sub(_mask_pair, payload))
    masked = _mask_value(document)
    if masked == document:
        return payload
    text = json.dumps(masked, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate (a client cut a string in half): keep it escaped
        text = json.dumps(masked, separators=(",", ":"))
    return text


def mask_payload(payload: str | None) -> str:
    """The payload with personal data masked, shortened to ``MAX_CHARS`` (for reading)."""
    if payload is None:
        return ""
    masked = mask_personal_data(payload)
    if len(masked) > MAX_CHARS:
        return masked[:MAX_CHARS] + f"… ({len(payload):,} characters)"
    return masked


def _mask_pair(match: re.Match) -> str:
    key, colon, _ = match.groups()
    if not _flagged(key):
        return match.group(0)
    return f'"{key}"{colon}"{MASK}"'
