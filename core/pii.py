"""The hard-coded PII allowlist: the only personal-data keys an event payload may carry, and
what makes a key or a value look like personal data.

Any other key that looks like personal data is a violation: reported by the schema check and the
lake payload check; the ingest dead-letters events carrying one (pii_key_not_allowed:<key>).
The payload check also runs the value detectors over a sample of payload values. Changing these
lists is a code change, reviewed like one.
"""

import re
from collections.abc import Iterable
from itertools import pairwise

from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban, luhn

# Pseudonymous identifiers and coarse location: what analytics needs, nothing that names a person.
ALLOWED_PII_KEYS: frozenset[str] = frozenset(
    {"identity_id", "user_id", "session_id", "country", "city", "locale", "user_agent"}
)

# Words that make a key look like personal data wherever they appear in it...
PII_WORDS = frozenset(
    {
        # contact and names
        "email", "mail", "phone", "mobile", "telephone", "tel", "msisdn", "fax", "surname",
        "firstname", "lastname", "fullname", "middlename", "nickname", "handle",
        "address", "addr", "street", "postcode", "postal", "zip", "ip", "ipv4", "ipv6",
        # messaging accounts
        "whatsapp", "telegram", "skype", "wechat", "viber", "snapchat", "kik",
        # national, tax and travel documents
        "ssn", "nid", "nin", "nino", "tin", "itin", "taxid", "vatid", "vatin", "cpf", "cnpj",
        "aadhaar", "pesel", "bsn", "nif", "dni", "curp", "passport",
        # cards and bank accounts
        "iban", "card", "pan", "cc", "ccn", "ccnum", "cvv", "cvc", "ccv", "creditcard",
        "debitcard", "bankcard", "cardnumber", "cardno",
        # coordinates
        "lat", "lng", "lon", "latitude", "longitude", "latlng", "latlon", "lnglat", "lonlat",
        "coord", "coords", "coordinate", "coordinates", "geohash", "geopoint", "geoloc",
        "geolocation", "geo", "gps",
        # the person and their devices
        "birth", "birthday", "birthdate", "dob", "age", "gender", "sex", "password", "passwd",
        "pwd", "secret", "token", "imei", "idfa", "gaid", "fingerprint",
        "identity", "user", "username", "session", "country", "city", "locale", "agent",
    }
)  # fmt: skip
# Words before "name" that make it a person's name (a listing_name or event_name is not).
PERSON_NAME_OF = (
    "first", "last", "full", "given", "family", "middle", "maiden", "nick", "display", "legal",
    "real", "contact", "customer", "client", "guest", "host", "owner", "holder", "account",
    "billing", "shipping", "recipient", "sender", "user", "member", "person", "cardholder",
)  # fmt: skip
# ...and these only as a pair of successive words (event_name, listing_name, device_type,
# tax_amount and order_line_id are not about a person), or "name" as the whole key.
PII_PAIRS = frozenset(
    {
        *((word, "name") for word in PERSON_NAME_OF),
        ("device", "id"), ("advertising", "id"), ("ad", "id"), ("remote", "addr"),
        ("national", "id"), ("national", "number"), ("national", "insurance"),
        ("social", "security"), ("tax", "id"), ("tax", "number"), ("tax", "no"), ("tax", "code"),
        ("vat", "id"), ("vat", "number"), ("vat", "no"), ("id", "card"), ("id", "document"),
        ("driver", "license"), ("driver", "licence"), ("drivers", "license"),
        ("drivers", "licence"), ("driving", "license"), ("driving", "licence"),
        ("account", "number"), ("bank", "account"), ("routing", "number"), ("sort", "code"),
        ("signal", "handle"), ("signal", "number"), ("signal", "username"),
        ("line", "handle"), ("line", "user"), ("line", "username"), ("line", "account"),
        ("plus", "code"),
    }
)  # fmt: skip
# Free text can hold anything a person typed, so a key naming it is personal data...
FREE_TEXT_WORDS = frozenset(
    {
        "message", "messages", "msg", "text", "body", "comment", "comments", "note", "notes",
        "bio", "description", "caption", "feedback", "transcript",
    }
)  # fmt: skip
# ...unless its last word says it holds something about the text (message_id, text_length).
ABOUT_TEXT = frozenset(
    {
        "id", "ids", "uuid", "key", "hash", "count", "length", "len", "size", "chars", "type",
        "kind", "class", "category", "status", "format", "lang", "language", "version",
        "template", "at", "ts",
    }
)  # fmt: skip
# Spellings run together into one word (useremail, creditcardnumber, dateofbirth): matched
# inside a key. Only words long enough not to hide in ordinary ones ("tel" is in "hotel").
RUN_TOGETHER = (
    "email", "phone", "password", "passwd", "passport", "creditcard", "debitcard",
    "cardnumber", "ccnum", "whatsapp", "telegram", "wechat", "skype", "latitude", "longitude",
    "latlng", "latlon", "lnglat", "geohash", "birthdate", "birthday", "dateofbirth",
    "firstname", "lastname", "surname", "fullname", "nationalid", "ipaddress", "msisdn",
)  # fmt: skip

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def key_words(key: str) -> list[str]:
    """A key split into lower-case words: snake_case, camelCase, kebab-case and dots alike."""
    return [w.lower() for w in _WORDS.findall(key)]


def looks_like_pii(key: str) -> bool:
    words = key_words(key)
    joined = "".join(words)
    return (
        words == ["name"]
        or any(w in PII_WORDS for w in words)
        or any(pair in PII_PAIRS for pair in pairwise(words))
        or (any(w in FREE_TEXT_WORDS for w in words) and words[-1] not in ABOUT_TEXT)
        or any(word in joined for word in RUN_TOGETHER)
    )


def pii_violations(keys: Iterable[str]) -> list[str]:
    """Keys that look like personal data and are not on the allowlist, sorted."""
    return sorted({k for k in keys if looks_like_pii(k) and k not in ALLOWED_PII_KEYS})


# --- values

# National-format phone numbers are read as numbers of these regions (the portal's markets);
# numbers written internationally (+44 ...) are found whatever the region.
PHONE_REGIONS = ("DE", "AT", "CH", "NL", "GB", "FR", "ES", "IT", "PL", "US")
# Shorter numbers are amounts and counts, though some are valid (16400 is, in Germany).
PHONE_MIN_DIGITS = 7

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# Candidates only: 13 to 19 digits, grouped by spaces or dashes, not part of a longer number
# or an international phone number, starting as the card networks' numbers do (2-6: Mastercard,
# Amex, Visa, Discover; not 1, so epoch milliseconds are not cards); luhn decides.
_CARD = re.compile(r"(?<![\d+])(?<!\d[ -])[2-6](?:[ -]?\d){12,18}(?![ -]?\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _has_card(text: str) -> bool:
    return any(luhn.is_valid(re.sub(r"\D", "", m)) for m in _CARD.findall(text))


def _has_phone(text: str) -> bool:
    return any(
        len(str(match.number.national_number)) >= PHONE_MIN_DIGITS
        for region in PHONE_REGIONS
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID)
    )


def value_kinds(text: str) -> set[str]:
    """What personal data ``text`` holds: "email", "phone" (a valid number by libphonenumber's
    rules), "card" (13 to 19 digits passing Luhn) and "iban" (a valid IBAN checksum)."""
    found = set()
    if _EMAIL.search(text):
        found.add("email")
    if _has_card(text):
        found.add("card")
    if any(iban.is_valid(m) for m in _IBAN.findall(text)):
        found.add("iban")
    if _has_phone(text):
        found.add("phone")
    return found
