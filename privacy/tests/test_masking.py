"""Personal data never reaches the triage page: flagged keys and email/phone/IP-looking values."""

import json

import pytest

from core.masking import MASK, MAX_CHARS, mask_payload, mask_personal_data


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Keys the PII allowlist flags lose their value, whatever it is.
        ('{"email":"guest@example.com","path":"/berlin"}', {"email": MASK, "path": "/berlin"}),
        ('{"first_name":"Ann","city":"berlin"}', {"first_name": MASK, "city": "berlin"}),
        ('{"ip_address":"192.0.2.10","n":3}', {"ip_address": MASK, "n": 3}),
        # Values that look like contact data are masked under any key.
        (
            '{"referrer":"call +49 151 00000000 or mail a.b@example.org, from 10.1.2.3"}',
            {"referrer": f"call {MASK} or mail {MASK}, from {MASK}"},
        ),
        # Nested objects and lists.
        ('{"guest":{"phone":"123"},"tags":["x@y.io"]}', {"guest": {"phone": MASK}, "tags": [MASK]}),
        # Dates, amounts, versions and ids stay readable.
        (
            '{"day":"2026-01-31","amount_cents":15000,"app_version":"5.12.0","id":"prf_0a1b2c3d4e5f"}',
            {
                "day": "2026-01-31",
                "amount_cents": 15000,
                "app_version": "5.12.0",
                "id": "prf_0a1b2c3d4e5f",
            },
        ),
    ],
)
def test_json_payloads(payload, expected):
    assert json.loads(mask_payload(payload)) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Truncated JSON (malformed_json dead letters): the raw text is masked key by key.
        (
            '{"phone_number":"+49 151 00000000","path":"/berl',
            f'{{"phone_number":"{MASK}","path":"/berl',
        ),
        ('{"email": "guest@example.com", "referrer":"dir', f'{{"email": "{MASK}", "referrer":"dir'),
        ('{"ip_address":192.0.2.10,"x":"', f'{{"ip_address":"{MASK}","x":"'),
        ("not json at all, mail me: me@example.com", f"not json at all, mail me: {MASK}"),
    ],
)
def test_text_that_is_not_json(payload, expected):
    assert mask_payload(payload) == expected


def test_long_payloads_are_cut_after_masking():
    payload = '{"email":"a@b.de","blob":"' + "A" * 5000 + '"}'
    masked = mask_payload(payload)
    assert masked.startswith('{"email":"***","blob":"AAA')
    assert masked.endswith(f"… ({len(payload):,} characters)") and len(payload) == 5028
    assert len(masked) < MAX_CHARS + 30


def test_nothing_to_mask():
    assert mask_payload(None) == ""
    assert mask_payload('{"path":"/"}') == '{"path":"/"}'


def test_nothing_to_mask_leaves_the_very_same_text():
    # Not re-serialized: a DSAR sets back only what it really masked.
    assert mask_personal_data('{"path": "/",  "n": 1}') == '{"path": "/",  "n": 1}'


def test_a_lone_surrogate_stays_escaped_so_the_text_can_be_stored():
    masked = mask_personal_data('{"email":"a@b.de","q":"caf\\u00e9 \\ud83d"}')
    masked.encode()  # storable as UTF-8
    assert json.loads(masked) == {"email": MASK, "q": "café \ud83d"}


def test_digits_inside_words_tombstones_ids_and_times_are_not_phone_numbers():
    payload = {
        "referrer": "erased:2d861322988bf74a00000000",
        "other": "usr_000123456789",
        "at": "2026-01-25 10:11:12",
        "phone": "+49 151 00000000",
    }
    masked = json.loads(mask_personal_data(json.dumps(payload)))
    assert masked == {**payload, "phone": MASK}
