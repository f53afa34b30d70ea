"""The markers on figures built in Python (annotations.charts), and on the charts that use it:
the pipeline's health charts and an experiment's lift over time."""

import json
import re
from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from alerts.services import alert_raise
from annotations.charts import AXIS, annotated, figure_window, hover_text, with_annotations
from annotations.selectors import Annotation
from annotations.services import note_create
from experiments import charts as experiment_charts
from experiments.models import ResultComputation
from experiments.tests.builders import running
from pipeline.tests import factories
from tests.support.users import user_with_role

AT = datetime(2026, 1, 20, 14, 30, tzinfo=UTC)
LIFT = {
    "treatment": {
        "days": ["2026-01-10", "2026-01-15", "2026-01-25"],
        "lift_rel": [0.01, 0.02, 0.03],
        "low": [-0.1, -0.05, 0.0],
        "high": [0.1, 0.08, 0.06],
    }
}


def figure_in(body: str, name: str) -> dict:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', body, re.S)
    return json.loads(match.group(1))


def marks(figure: dict) -> list[str]:
    """The hover texts of the figure's annotation markers."""
    return [t for trace in figure["data"] if trace.get("yaxis") == AXIS for t in trace["text"]]


def test_a_marker_is_a_dotted_line_and_a_hover_on_its_own_axis():
    figure = {"data": [{"x": ["2026-01-19"], "y": [3]}], "layout": {"shapes": [{"y0": 1}]}}
    note = Annotation("note", AT, "ana", "Price test <b>live</b> " + "word " * 60)
    marked = annotated(figure, [note])
    assert figure["layout"]["shapes"] == [{"y0": 1}] and len(figure["data"]) == 1  # a copy
    line = marked["layout"]["shapes"][1]
    assert (line["x0"], line["x1"], line["yref"], line["line"]["dash"]) == (
        "2026-01-20 14:30:00",
        "2026-01-20 14:30:00",
        "paper",
        "dot",
    )
    trace = marked["data"][1]
    assert (trace["yaxis"], trace["x"], trace["showlegend"]) == (
        AXIS,
        ["2026-01-20 14:30:00"],
        False,
    )
    assert marked["layout"]["yaxis9"]["overlaying"] == "y"
    text = hover_text(note)
    assert text.startswith("<b>Note</b> · 20 Jan 2026 14:30<br>ana<br>Price test &lt;b&gt;live")
    assert text.count("<br>") == 5 and text.endswith(" …")  # kind and time, author, 4 lines
    assert annotated(figure, []) is figure


def test_the_window_of_a_figure_is_its_first_and_last_x():
    lift = experiment_charts.lift_over_time(LIFT, {}, "always-valid interval")
    assert figure_window(lift) == (date(2026, 1, 10), date(2026, 1, 25))
    hourly = {"data": [{"x": ["2026-01-30T10:00:00+00:00", "2026-01-31T09:00:00+00:00"]}]}
    assert figure_window(hourly) == (
        datetime(2026, 1, 30, 10, tzinfo=UTC),
        datetime(2026, 1, 31, 9, tzinfo=UTC),
    )
    assert figure_window({"data": [{"x": []}]}) is None


@pytest.mark.django_db
def test_the_lift_chart_marks_its_window_for_its_readers(client):
    experiment = running("exp_lift", started=date(2026, 1, 10))
    analyst = user_with_role("analyst")
    note_create(author=analyst, at=AT, text="Pricing page bug fixed")
    note_create(author=analyst, at=datetime(2026, 2, 1, tzinfo=UTC), text="After the window")
    ResultComputation.objects.create(
        experiment=experiment,
        computed_at=timezone.now(),
        status="succeeded",
        totals={"control": {"units": 10}, "treatment": {"units": 10}},
        lift_over_time=LIFT,
        method={"sequential": True, "tuning": 1000, "correction": "holm"},
    )
    client.force_login(analyst)
    body = client.get("/experiments/exp_lift/results/").content.decode()
    texts = marks(figure_in(body, "lift-figure"))
    assert [t.split("<br>")[0] for t in texts] == [
        "<b>Experiment launched</b> · 10 Jan 2026 00:00",
        "<b>Note</b> · 20 Jan 2026 14:30",
    ]
    assert "Experiment exp_lift (exp_lift)" in texts[0] and "Pricing page bug fixed" in texts[1]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "sees_experiments"), [("analyst", True), ("support", False)])
def test_the_pipeline_charts_mark_alarms_notes_and_experiments_by_role(
    client, role, sees_experiments
):
    factories.health(days=14)
    running("exp_pipeline_secret", started=factories.AS_OF.date())
    alert_raise(key="loss:x", source="pipeline", severity="alarm", title="Loss over budget")
    author = user_with_role("pm", "pat")
    note_create(author=author, at=factories.AS_OF, text="Collector redeployed")
    note_create(author=author, at=factories.AS_OF, text="On one metric", metric="refund_rate")
    client.force_login(user_with_role(role))
    body = client.get("/pipeline/").content.decode()
    for name in ("loss-figure", "silver-figure", "gold-figure", "volume-figure"):
        heads = [t.split("<br>")[0].split(" · ")[0] for t in marks(figure_in(body, name))]
        expected = ["<b>Note</b>", "<b>Pipeline alarm</b>"]
        if sees_experiments:
            expected.insert(0, "<b>Experiment launched</b>")
        assert sorted(heads) == sorted(expected), name
    assert ("exp_pipeline_secret" in body) == sees_experiments
    assert "Loss over budget" in body and "On one metric" not in body


def test_with_annotations_leaves_a_figure_without_x_alone(db):
    figure = {"data": [], "layout": {}}
    assert with_annotations(figure, user=user_with_role("analyst")) is figure
