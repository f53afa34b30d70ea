"""What a demo lake is built from (window, scale, seed) and the volumes and rates it is tuned to."""

from dataclasses import dataclass
from datetime import date, timedelta

from warehouse.lake import layout

# --- Volumes at scale 1.0 (≈ 2 million raw events over 90 days).
PRE_WINDOW_IDENTITIES = 50_000
NEW_IDENTITIES_PER_DAY = 480
RETURNING_SESSIONS_PER_DAY = 2_800
CRAWLER_SESSIONS_PER_DAY = 2.0
PROFILES, STUDIOS = 3_000, 450
SFW_CHECKS_PER_DAY = 2_500
DMCA_NOTICES_PER_DAY = 2.5
TICKETS_PER_SESSION = 0.01
# Bookings and their after-sale reach back this far before the window (events, sessions and
# touches start with it), as a marketplace keeps its bookings for years: cohorts followed up
# for 90 days have matured within any window, and a first booking is told from a returning one.
HISTORY_DAYS = 365

# --- Behaviour.
USER_SHARE = 0.21
FUNNEL_RATES = {"view": 0.34, "message": 0.08, "checkout_start": 0.30, "checkout_complete": 0.65}
PROMO_SESSION_SHARE = 0.14
SEO_SESSION_SHARE = 0.30
BASE_LOSS, INCIDENT_LOSS = 0.004, 0.06
DUPLICATE_SHARE, DEAD_LETTER_SHARE, LATE_SESSION_SHARE, PII_LEAK_SHARE = 0.004, 0.006, 0.005, 0.001


@dataclass(frozen=True)
class LakeConfig:
    days: int
    scale: float
    seed: int
    end_date: date
    # A partition with more rows is split into bucket files (see warehouse.lake.layout).
    rows_per_file: int = layout.ROWS_PER_FILE
    history_days: int = HISTORY_DAYS

    @property
    def history_start(self) -> date:
        return self.start_date - timedelta(days=self.history_days)

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)


@dataclass(frozen=True)
class LakeSummary:
    rows: dict[str, int]
    raw_events: int
    seconds: float
