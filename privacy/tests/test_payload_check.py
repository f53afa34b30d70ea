"""The lake payload check: raw_events payload keys against their event version's registered
schema and the PII allowlist, and sampled values against the e-mail, phone, card and IBAN
detectors, by canonical SQL on real engines (DuckDB over Parquet, PostgreSQL); checked against
json over the Parquet files and the registry's JSON files read here."""

import io
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from core.pii import looks_like_pii, pii_violations, value_kinds
from privacy import payload_check, services
from privacy.tests.conftest import read_table
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.registry import get_engine
from warehouse.lake import contract, storage
from warehouse.lake.storage import arrow_schema
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

DAY = date(2026, 1, 31)
# Planted on DAY. Every value here must never appear in a scan: it is counted, not kept.
CARD, BAD_CARD = "4111 1111 1111 1111", "4111111111111112"
EMAIL, PHONE = "jo.planted@example.org", "+49 151 23456789"
PLANTED = [
    # A card number under a key the allowlist flags, and an e-mail address under a registered
    # key that is not personal by its name.
    ("page_view", 2, {"path": "/p", "referrer": "direct", "cc_number": CARD}),
    ("page_view", 2, {"path": f"/contact/{EMAIL}", "referrer": "direct"}),
    # A phone number in free text; a Luhn-invalid 16-digit number under a registered key.
    ("search", 3, {"query_class": "city", "city": "Berlin", "note": f"call {PHONE}"}),
    ("search", 3, {"query_class": "city", "city": "Berlin", "results_count": BAD_CARD}),
    # filters is registered from v3 on only; an event name with no schema at all.
    ("search", 2, {"query_class": "city", "city": "Berlin", "filters": 2}),
    ("promo_click", 1, {"campaign": "winter"}),
    # Spellings of personal keys, with harmless values.
    *(
        ("profile_view", 4, {"profile_id": "prf_1", "position": 1, key: "x"})
        for key in ("CCNumber", "e-mail", "national_id", "tax_id", "whatsapp", "latlng")
    ),
    ("message_sent", 2, {"listing_id": "prf_1", "thread_id": "thr_1", "message_text": "hi"}),
]


def plant(root: Path, events: list[tuple[str, int, dict]], day: date = DAY) -> None:
    """Raw events with these payloads in a file of their own on ``day``; the lake's watermark
    moves, as after any load, so no cached result of the lake before is served."""
    table = contract.table("raw_events")
    at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    rows = [
        {
            "event_id": f"evt_planted_{i:04d}",
            "event_name": name,
            "schema_version": version,
            "identity_id": "idn_00000000feed",
            "user_id": None,
            "session_id": "ses_planted",
            "client_ts": at,
            "ingest_ts": at,
            "user_agent": "test",
            "payload": json.dumps(payload),
        }
        for i, (name, version, payload) in enumerate(events)
    ]
    data = pa.Table.from_pylist(rows, schema=arrow_schema(table))
    storage.write_parquet(
        data, storage.partition_dir(root, table, str(day)) / "part-planted.parquet"
    )
    storage.bump_watermark(root)


def registered_by_files() -> dict[tuple[str, int], set[str]]:
    """Top-level keys per (event, major version), from the registry's JSON files."""
    keys: dict[tuple[str, int], set[str]] = defaultdict(set)
    for path in Path(settings.PIPELINE_SCHEMA_DIR).glob("*/*.json"):
        document = json.loads(path.read_text())
        major = int(document["x-version"].split(".")[0])
        keys[(document["x-event"], major)] |= set(document["properties"])
    return keys


def could_be_personal(value) -> bool:
    """The values the check samples: a string with an @ or seven digits in a row (a few
    separators between them allowed), or a number of 13 digits or more."""
    if isinstance(value, str):
        return re.search(r"@|\d([ ()./-]{0,2}\d){6}", value) is not None
    return isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 13


def expected_by_files(root: Path, start: date, end: date) -> dict[tuple[str, str], dict]:
    """Per (event, key) with a violation: events, events off their schema, whether the key
    flags and the detectors' hits over every value that could be personal (json over the
    Parquet files)."""
    registered = registered_by_files()
    raw = read_table(root, "raw_events")
    raw = raw[(raw["event_dt"] >= start) & (raw["event_dt"] <= end)]
    found: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"events": 0, "unregistered_events": 0, "value_hits": Counter()}
    )
    rows = zip(raw["event_name"], raw["schema_version"], raw["payload"], strict=True)
    for name, version, payload in rows:
        try:
            document = json.loads(payload)
        except (TypeError, ValueError):
            continue
        if not isinstance(document, dict):
            continue
        for key, value in document.items():
            item = found[(name, key)]
            item["events"] += 1
            if key not in registered.get((name, int(version)), ()):
                item["unregistered_events"] += 1
            if could_be_personal(value):
                item["value_hits"].update(value_kinds(str(value)))
    expected = {}
    for (name, key), item in found.items():
        flagged = pii_violations([key]) == [key]
        if item["unregistered_events"] or item["value_hits"] or flagged:
            expected[(name, key)] = {**item, "pii_key": flagged}
    return expected


def as_found(violations: list[dict]) -> dict[tuple[str, str], dict]:
    return {
        (v["event_name"], v["key"]): {
            "events": v["events"],
            "unregistered_events": v["unregistered_events"],
            "value_hits": Counter(v["value_hits"]),
            "pii_key": "pii_key" in v["kinds"],
        }
        for v in violations
    }


@pytest.fixture
def whole_sample(monkeypatch):
    """Every candidate value sampled, so that the check can be compared with all values."""
    monkeypatch.setattr(payload_check, "SAMPLE_PER_KEY", 1_000_000)


@pytest.fixture
def planted_lake(lake_copy: Path) -> Path:
    plant(lake_copy, PLANTED)
    return lake_copy


# --- keys


def test_pii_violations_is_the_allowlist_check():
    assert pii_violations(["email", "identity_id", "path", "phone_number", "city"]) == [
        "email",
        "phone_number",
    ]


@pytest.mark.parametrize(
    "key",
    [
        "email", "emailAddress", "userEmail", "e-mail", "E_MAIL", "useremail", "phone_number",
        "phoneNumber", "ipAddr", "IPAddress", "telephone", "birthday", "date_of_birth",
        "dateofbirth", "password", "device_id", "advertising_id", "imei", "remote_addr",
        "gender", "first_name", "lastName", "firstname", "name", "home.street", "contact_name",
        "customerName", "middle_name", "recipient_name", "billing_name", "nickname",
        # cards and bank accounts
        "cc_number", "CCNumber", "ccNum", "cc-no", "ccnum", "creditCardNumber",
        "creditcardnumber", "card_no", "cvc", "iban", "account_number",
        # national and tax ids, passports
        "national_id", "nationalId", "NationalID", "nid", "nino", "ssn", "tax_id", "taxId",
        "TaxID", "tin", "vat_number", "passport_no", "passportNumber", "driver_license",
        # messaging handles
        "whatsapp", "WhatsApp", "whatsapp_number", "telegram_handle", "skypeId", "wechat_id",
        "line_handle", "signal_number", "instagram_handle",
        # coordinates
        "latlng", "latLng", "lat_lon", "coords", "geohash", "geoHash", "longitude",
        # free text
        "message_text", "messageBody", "message", "text", "comment", "note", "notes", "bio",
        "description", "feedback",
    ],
)  # fmt: skip
def test_keys_that_name_personal_data_look_like_pii_in_any_spelling(key):
    assert looks_like_pii(key)


@pytest.mark.parametrize(
    "key",
    [
        "event_name", "listing_name", "path", "referrer", "listing_id", "profile_id",
        "page", "image", "usage", "device_type", "amount_cents", "utm_source", "filters",
        "schema_version", "experiment_key", "hotel_id",
        # about free text, not the text; lines of an order, amounts of tax
        "message_id", "text_length", "comment_count", "note_type", "line_item_id",
        "tax_amount_cents", "vat_rate",
    ],
)  # fmt: skip
def test_ordinary_keys_do_not(key):
    assert not looks_like_pii(key)


def test_no_key_of_the_registered_schemas_looks_like_pii_off_the_allowlist():
    keys = set().union(*registered_by_files().values())
    assert "message_id" in keys and "city" in keys
    assert pii_violations(keys) == []


def test_every_pii_reason_of_the_dead_letters_names_a_key_the_allowlist_flags(small_lake):
    """The demo lake's ingest dead-letters by the same rule the portal checks."""
    reasons = read_table(small_lake, "dead_letter_events")["reason"].unique()
    keys = [r.split(":", 1)[1] for r in reasons if r.startswith("pii_key_not_allowed:")]
    assert keys and pii_violations(keys) == sorted(keys)


# --- values


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("guest12@example.com", {"email"}),
        ("write to Jo.Doe+x@mail.example.co.uk please", {"email"}),
        ("+49 151 23456789", {"phone"}),
        ("0151 23456789", {"phone"}),  # national format, of a region the portal serves
        ("call +44 20 7946 0958", {"phone"}),
        ("(415) 555-0132", {"phone"}),
        ("4111 1111 1111 1111", {"card"}),
        ("5500-0055-5555-5559", {"card"}),
        ("378282246310005", {"card"}),  # 15 digits (Amex), Luhn-valid
        ("DE89 3704 0044 0532 0130 00", {"iban"}),
        # Luhn-invalid 16 digits; ids, dates, paths, amounts and counts are nothing.
        ("4111111111111112", set()),
        ("1234567812345678", set()),
        ("prf_00571bd42efc", set()),
        ("bkg_0000123456", set()),
        ("2026-01-25T10:11:12Z", set()),
        # Epoch milliseconds: 13 digits, a tenth of them Luhn-valid, never a card.
        *((str(1_733_577_600_000 + i * 1_000), set()) for i in range(200)),
        ("/listing/12345678", set()),
        ("16400", set()),  # a valid German number, but an amount in cents here
        ("DE89 3704 0044 0532 0130 01", set()),
        ("user at example dot com", set()),
    ],
)
def test_value_detectors(text, kinds):
    assert value_kinds(text) == kinds


# --- the lake


def test_scan_reports_what_the_files_hold(lake_settings, whole_sample):
    start, end = date(2026, 1, 18), date(2026, 1, 31)
    scan = services.payload_scan_run(start=start, end=end)
    expected = expected_by_files(lake_settings, start, end)
    assert as_found(scan.violations) == expected
    # The demo lake's client bug that leaks e-mail addresses, every way it shows.
    (leak,) = scan.violations
    assert (leak["event_name"], leak["key"]) == ("page_view", "email")
    assert leak["kinds"] == ["unregistered_key", "pii_key", "pii_value"]
    assert leak["unregistered_versions"] == [2]
    assert leak["value_hits"] == {"email": leak["events"]} == {"email": leak["values_sampled"]}
    run = QueryRun.objects.get(pk=scan.run_id)
    assert run.status == "succeeded" and run.tables == ["raw_events"]


def test_planted_keys_and_values_are_reported_without_their_values(planted_lake, whole_sample):
    scan = services.payload_scan_run(start=DAY, end=DAY)
    found = {(v["event_name"], v["key"]): v for v in scan.violations}
    assert as_found(scan.violations) == expected_by_files(planted_lake, DAY, DAY)

    card = found[("page_view", "cc_number")]
    assert card["kinds"] == ["unregistered_key", "pii_key", "pii_value"]
    assert (card["events"], card["value_hits"]) == (1, {"card": 1})
    # A registered key that is not personal by name, holding an e-mail address.
    path = found[("page_view", "path")]
    assert path["kinds"] == ["pii_value"] and path["value_hits"] == {"email": 1}
    assert found[("search", "note")]["value_hits"] == {"phone": 1}
    # Luhn decides: the invalid 16 digits are no card, and the key is not reported.
    assert ("search", "results_count") not in found
    # Off the schema of its version only; an event with no schema has none of its keys.
    filters = found[("search", "filters")]
    assert filters["kinds"] == ["unregistered_key"]
    assert (filters["unregistered_versions"], filters["unregistered_events"]) == ([2], 1)
    assert found[("promo_click", "campaign")]["kinds"] == ["unregistered_key"]
    for key in ("CCNumber", "e-mail", "national_id", "tax_id", "whatsapp", "latlng"):
        assert found[("profile_view", key)]["kinds"] == ["unregistered_key", "pii_key"], key
    assert found[("message_sent", "message_text")]["kinds"] == ["unregistered_key", "pii_key"]
    # Registered keys with ordinary values are not violations.
    assert not {("profile_view", "profile_id"), ("search", "city")} & found.keys()

    stored = json.dumps(scan.violations)
    for value in (CARD, CARD.replace(" ", ""), EMAIL, PHONE, "23456789", BAD_CARD):
        assert value not in stored


def test_the_value_sample_is_bounded_per_event_and_key(lake_copy, monkeypatch):
    monkeypatch.setattr(payload_check, "SAMPLE_PER_KEY", 2)
    plant(lake_copy, [("page_view", 2, {"path": f"/u/{i}@example.org"}) for i in range(5)])
    scan = services.payload_scan_run(start=DAY, end=DAY)
    path = next(v for v in scan.violations if v["key"] == "path")
    assert (path["values_sampled"], path["value_hits"]) == (2, {"email": 2})
    assert all(v["values_sampled"] <= 2 for v in scan.violations)


def test_a_key_that_is_itself_personal_data_is_named_masked(lake_copy):
    plant(lake_copy, [("page_view", 2, {"path": "/p", "jo.key@example.org": EMAIL})])
    scan = services.payload_scan_run(start=DAY, end=DAY)
    masked = next(v for v in scan.violations if v["key"] == "***")
    assert masked["kinds"] == ["unregistered_key", "pii_value"]
    assert (masked["events"], masked["value_hits"]) == (1, {"email": 1})
    assert "jo.key" not in json.dumps(scan.violations)


def test_command_prints_violations(planted_lake):
    out = io.StringIO()
    call_command("payload_check", "--start", str(DAY), "--end", str(DAY), stdout=out)
    lines = out.getvalue().splitlines()
    rows = {tuple(line.split("\t")[:2]): line.split("\t")[2:] for line in lines[:-1]}
    assert rows[("page_view", "cc_number")] == [
        "1",
        "not in the schema (v2: 1); PII-looking key off the allowlist; "
        "PII-looking values (card 1 of 1 sampled)",
    ]
    assert rows[("search", "filters")][1] == "not in the schema (v2: 1)"
    assert rows[("promo_click", "campaign")][1] == "not in the schema (v1: 1)"
    expected = expected_by_files(planted_lake, DAY, DAY).values()
    assert lines[-1] == (
        f"{len(rows)} keys with violations: "
        f"{sum(bool(e['unregistered_events']) for e in expected)} not in their schema, "
        f"{sum(e['pii_key'] for e in expected)} PII-looking off the allowlist, "
        f"{sum(bool(e['value_hits']) for e in expected)} with PII-looking values"
    )
    assert EMAIL not in out.getvalue() and CARD not in out.getvalue()
    with pytest.raises(CommandError, match="must not be after"):
        call_command("payload_check", "--start", "2026-01-31", "--end", "2026-01-01")


def test_pii_page_shows_what_is_wrong_and_no_value(planted_lake, client, privacy_users):
    services.payload_scan_run(start=DAY, end=DAY)
    client.force_login(privacy_users[0])
    page = client.get("/privacy/pii/").content.decode()
    assert "<code>cc_number</code>" in page and "card 1 of 1 sampled" in page
    assert "<code>filters</code>" in page and "1 event (v2)" in page
    assert EMAIL not in page and CARD not in page and PHONE not in page


# --- two engines


def test_duckdb_and_postgres_find_the_same_keys_values_and_violations(
    planted_lake, pg_database, settings, whole_sample
):
    load_lake(pg_database, planted_lake, tables=["raw_events"], schema="lake")
    settings.WAREHOUSE_POSTGRES_URL = pg_database
    start, end = date(2026, 1, 25), DAY
    window = {"start": start, "end": end}
    values = {**window, "per_key": 1_000_000, "fragment_chars": payload_check.FRAGMENT_CHARS}
    found = {}
    for engine in ("duckdb", "postgres"):
        settings.WAREHOUSE = engine
        keys = get_engine(engine).run(payload_check.PAYLOAD_KEYS_SQL, window).frame
        sample = get_engine(engine).run(payload_check.PAYLOAD_VALUES_SQL, values).frame
        scan = services.payload_scan_run(start=start, end=end)
        assert QueryRun.objects.get(pk=scan.run_id).engine == engine
        found[engine] = (
            {
                (r.event_name, int(r.schema_version), r.key): int(r.events)
                for r in keys.itertuples(index=False)
            },
            Counter(zip(sample["event_name"], sample["key"], sample["fragment"], strict=True)),
            scan.violations,
        )
    assert found["postgres"] == found["duckdb"]
    assert as_found(found["postgres"][2]) == expected_by_files(planted_lake, start, end)
