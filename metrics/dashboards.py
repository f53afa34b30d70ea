"""Dashboards, defined as data: each tile names a catalogue metric by slug, never SQL.

A number on a dashboard is therefore always the catalogue's number: the tile asks the metric
data API for it, exactly as the metric's own page and the CSV export do.
"""

from dataclasses import dataclass
from enum import StrEnum


class Chart(StrEnum):
    LINE = "line"
    BAR = "bar"


class Size(StrEnum):
    """Columns of the 12-column grid a tile spans on a laptop (tiles stack on a phone)."""

    SMALL = "small"  # 4
    MEDIUM = "medium"  # 6
    WIDE = "wide"  # 12


@dataclass(frozen=True)
class Tile:
    metric: str
    chart: Chart = Chart.LINE
    size: Size = Size.SMALL
    split_by: str | None = None


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    description: str
    tiles: tuple[Tile, ...]
    default_days: int = 28
    default_grain: str = "day"
    default_compare: bool = True


class UnknownDashboard(KeyError):
    pass


DASHBOARDS: tuple[Dashboard, ...] = (
    Dashboard(
        slug="marketplace-health",
        title="Marketplace health",
        description="The booking funnel, after-sale outcomes, supply and repeat bookings.",
        tiles=(
            Tile("search_to_view_ctr", size=Size.MEDIUM),
            Tile("view_to_message_rate", size=Size.MEDIUM),
            Tile("message_to_checkout_start_rate"),
            Tile("checkout_completion_rate"),
            Tile("time_to_first_booking"),
            Tile("refund_rate"),
            Tile("dispute_rate"),
            Tile("chargeback_win_rate"),
            Tile("repeat_booking_rate_7d"),
            Tile("repeat_booking_rate_30d"),
            Tile("repeat_booking_rate_90d"),
            Tile("supply_freshness", size=Size.MEDIUM),
            Tile("availability_coverage", size=Size.MEDIUM),
        ),
    ),
    Dashboard(
        slug="growth",
        title="Growth",
        description="Lifecycle email and alerts, referrals, promotions and SEO.",
        tiles=(
            Tile("email_digest_ctr", size=Size.MEDIUM),
            Tile("alert_ctr", size=Size.MEDIUM),
            Tile("referral_qualification_rate"),
            Tile("promo_roas", chart=Chart.BAR),
            Tile("seo_nonbrand_clicks", chart=Chart.BAR),
            Tile("seo_top100_landing_ctr", size=Size.MEDIUM),
            Tile("seo_indexation_rate", size=Size.MEDIUM),
        ),
    ),
    Dashboard(
        slug="support",
        title="Support",
        description="Response and resolution times, self-service, DMCA and SLA breaches.",
        tiles=(
            Tile("support_first_response_time", size=Size.MEDIUM),
            Tile("support_time_to_resolution", size=Size.MEDIUM),
            Tile("support_auto_resolved_share"),
            Tile("dmca_cycle_time"),
            Tile("sla_breach_count", chart=Chart.BAR),
        ),
    ),
    Dashboard(
        slug="quality-safety",
        title="Quality & safety",
        description="Safe-for-work violations on public surfaces, verification and takedowns.",
        tiles=(
            Tile("sfw_violation_rate", size=Size.WIDE),
            Tile("doc_verification_lag", size=Size.MEDIUM),
            Tile("takedown_propagation_time", size=Size.MEDIUM),
        ),
    ),
)

_BY_SLUG = {d.slug: d for d in DASHBOARDS}


def get_dashboard(slug: str) -> Dashboard:
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise UnknownDashboard(slug) from None
