"""What the home page shows a user: where to look first (reads of every other app)."""

from collections import Counter
from dataclasses import dataclass

from django.conf import settings

from alerts.models import Alert
from alerts.selectors import alerts_visible
from experiments.models import Experiment
from metrics.dashboards import Dashboard
from metrics.selectors import dashboards_visible
from pipeline.models import TableFreshness
from pipeline.selectors import freshness_visible
from portal.recent import recent_dashboards
from portal.roles import Capability, data_scope, may
from saved_views.models import SavedView
from saved_views.selectors import saved_views_for
from warehouse import watermark

SHOWN = 6


@dataclass(frozen=True)
class Home:
    saved_views: list[SavedView]
    recent: list[Dashboard]
    open_alerts: list[Alert]
    open_alert_count: int
    experiments: list[Experiment] | None  # None: the user may not open experiments
    data_as_of: str | None
    freshness_by_status: dict[str, int]  # worst first
    late_tables: list[TableFreshness]


def home_for(request) -> Home:
    user = request.user
    scope = data_scope(user)
    readable = {d.slug: d for d, _ in dashboards_visible(scope)}
    open_alerts = alerts_visible(user=user).filter(closed_at__isnull=True).order_by("-opened_at")
    freshness = freshness_visible(scope)
    experiments = None
    if may(user, Capability.EXPERIMENTS_READ):
        experiments = list(
            Experiment.objects.filter(owner=user)
            .exclude(status=Experiment.Status.CONCLUDED)
            .order_by("-pk")[:SHOWN]
        )
    return Home(
        saved_views=saved_views_for(user)[:SHOWN],
        recent=[readable[s] for s in recent_dashboards(request) if s in readable],
        open_alerts=list(open_alerts[:SHOWN]),
        open_alert_count=open_alerts.count(),
        experiments=experiments,
        data_as_of=watermark.current(settings.WAREHOUSE).max_partition,
        freshness_by_status={
            status: n
            for status in ("alarm", "warning", "unknown", "ok")
            if (n := Counter(f.status for f in freshness)[status])
        },
        late_tables=[f for f in freshness if f.status in ("warning", "alarm")][:SHOWN],
    )
