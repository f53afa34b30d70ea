"""Personal data never reaches the triage page: flagged keys and email/phone/IP-looking values."""

import json

import pytest

from privacy.masking import MASK, MAX_CHARS, mask_payload


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Keys the PII allowlist flags lose their value, whatever it is.
        ('{"email":"guest@example.com","path":"/berlin"}', {"email": MASK, "path": "/berlin"}),
        ('{"first_name":"Ann","city":"berlin"}', {"first_name": MASK, "city": "berlin"}),
        ('{"ip_address":"192.0.2.10","n":3}', {"ip_address": MASK, "n": 3}),
        # Values that look like contact data are masked under any key.
        (
            '{"note":"call +49 151 00000000 or mail a.b@example.org, from 10.1.2.3"}',
            {"note": f"call {MASK} or mail {MASK}, from {MASK}"},
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
