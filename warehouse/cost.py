"""What a query costs, from the bytes the engine reports. Pure functions, no I/O."""

import math

# AWS bills data in binary units (a GB is 2**30 bytes), so a TB is 2**40 bytes and a MB 2**20.
BYTES_PER_MB = 2**20
BYTES_PER_TB = 2**40
# Athena rounds the bytes scanned up to the next megabyte and charges at least 10 MB a query.
ATHENA_MINIMUM_MB = 10


def athena_cost_usd(bytes_scanned: int, usd_per_tb: float) -> float:
    """The dollars Athena bills for one query that scanned ``bytes_scanned`` bytes."""
    if bytes_scanned < 0:
        raise ValueError(f"bytes_scanned must not be negative, got {bytes_scanned}")
    billed_mb = max(math.ceil(bytes_scanned / BYTES_PER_MB), ATHENA_MINIMUM_MB)
    return billed_mb * BYTES_PER_MB / BYTES_PER_TB * usd_per_tb


def bytes_text(n: int) -> str:
    """A byte count for people, in binary units as AWS bills them: 1.5 GB is 1.5 * 2**30."""
    for unit, size in (("TB", BYTES_PER_TB), ("GB", 2**30), ("MB", BYTES_PER_MB), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
