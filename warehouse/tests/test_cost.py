import pytest

from warehouse.cost import athena_cost_usd, bytes_text

MB = 1024 * 1024
TB = 1024**4


@pytest.mark.parametrize(
    ("bytes_scanned", "usd_per_tb", "expected"),
    [
        # Anything up to 10 MB pays the 10 MB minimum: 10 / 1,048,576 TB x $5.
        (0, 5.0, 50 / 1_048_576),
        (1, 5.0, 50 / 1_048_576),
        (10 * MB, 5.0, 50 / 1_048_576),
        # One byte over rounds up to 11 MB.
        (10 * MB + 1, 5.0, 55 / 1_048_576),
        # 1 GiB = 1024 MB: $5 / 1024.
        (1024 * MB, 5.0, 0.0048828125),
        # A partial megabyte above the minimum rounds up: 12.3 MB -> 13 MB.
        (12 * MB + 300_000, 5.0, 65 / 1_048_576),
        (TB, 5.0, 5.0),
        (5 * TB // 2, 6.25, 15.625),
        (TB, 0.0, 0.0),
    ],
)
def test_athena_cost_usd(bytes_scanned: int, usd_per_tb: float, expected: float) -> None:
    assert athena_cost_usd(bytes_scanned, usd_per_tb) == pytest.approx(expected, rel=1e-12)


def test_athena_cost_rejects_negative_bytes() -> None:
    with pytest.raises(ValueError, match="negative"):
        athena_cost_usd(-1, 5.0)


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KB"), (10 * MB, "10.0 MB"),
     (10 * 2**30, "10.0 GB"), (3 * TB // 2, "1.5 TB")],
)  # fmt: skip
def test_bytes_text_uses_binary_units(n: int, text: str) -> None:
    assert bytes_text(n) == text
