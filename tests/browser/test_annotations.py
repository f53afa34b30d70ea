"""Notes in a real browser. On a metric page: one is added from the form (a click on the chart
picks its day), shows as a marker on the chart with its hover text, is edited by its author, and
another analyst sees it but can neither edit it on the page nor through the API. On a dashboard:
one added on the dashboard is drawn on each of its tiles. On pipeline health, whose charts the
server draws: the page reloads with the note on every chart."""

import pytest

from annotations.models import Note
from pipeline.tests import factories
from tests.browser.conftest import log_in, wait_for_tiles
from tests.support.users import user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.worker]

PAGE = "/metrics/seo_nonbrand_clicks/?start=2026-01-18&end=2026-01-31"
TILE = "[data-tile][data-metric=seo_nonbrand_clicks]"

# The annotation markers Plotly drew on the tile: their x and hover texts (annotations.js).
MARKERS = """() => {
  const plot = document.querySelector('[data-tile] .plot');
  const trace = (plot.data || []).find(t => t.name === 'annotations');
  if (!trace) return null;
  const lines = (plot.layout.shapes || []).filter(s => s.yref === 'paper').map(s => s.x0);
  return { x: trace.x, text: trace.text, lines: lines };
}"""


def markers(page) -> dict | None:
    return page.evaluate(MARKERS)


def wait_for_marker(page, text: str) -> dict:
    page.wait_for_function(
        f"""() => {{
          const m = ({MARKERS})();
          return m && m.text.some(t => t.includes({text!r}));
        }}"""
    )
    return markers(page)


def open_metric_page(page, portal: str, username: str) -> None:
    log_in(page, portal, username, PAGE)
    page.wait_for_selector(f"{TILE}[data-state=done]", timeout=120_000)


def test_a_note_is_added_on_the_chart_edited_by_its_author_only(portal, pages, lake_settings):
    user_with_role("analyst", "ana")
    user_with_role("analyst", "bob")
    page = pages.open()
    open_metric_page(page, portal, "ana")
    assert markers(page) is None  # nothing happened in this window yet
    page.get_by_text("No notes in this window.").wait_for()

    # A click on the chart picks the day of the note.
    page.evaluate(
        """() => document.querySelector('[data-tile] .plot')
             .emit('plotly_click', { points: [{ x: '2026-01-25' }] })"""
    )
    assert page.input_value("[data-notes] input[name=at]") == "2026-01-25"
    page.fill("[data-notes] input[name=text]", "Spring campaign <b>live</b>")
    page.click("[data-notes] button[type=submit]")

    shown = wait_for_marker(page, "Spring campaign")
    assert shown["x"] == ["2026-01-25 00:00:00"] and shown["lines"] == ["2026-01-25 00:00:00"]
    assert shown["text"][0] == (
        "<b>Note</b> · 25 Jan 2026 00:00<br>ana<br>Spring campaign &lt;b&gt;live&lt;/b&gt;"
    )
    note = Note.objects.get()
    assert (note.author.username, note.metric) == ("ana", "seo_nonbrand_clicks")
    row = page.locator(f"[data-note-id='{note.pk}']")
    assert "Spring campaign <b>live</b>" in row.inner_text()
    assert page.locator(f"{TILE} .shapelayer path").count() >= 1  # the dotted line is drawn

    # Hovering the marker shows what happened (Plotly's drag layer takes the mouse events).
    box = page.locator(f"{TILE} .scatterlayer .trace").last.locator(".point").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"])
    page.locator(f"{TILE} .hoverlayer").get_by_text("Spring campaign").first.wait_for()

    row.locator("[data-action=edit]").click()
    page.fill("[data-notes] input[name=text]", "Spring campaign live in DE")
    page.click("[data-notes] button[type=submit]")
    wait_for_marker(page, "live in DE")
    note.refresh_from_db()
    assert note.text == "Spring campaign live in DE"

    # Another analyst sees the note and its marker, but no way to change it.
    other = pages.open()
    open_metric_page(other, portal, "bob")
    wait_for_marker(other, "live in DE")
    row = other.locator(f"[data-note-id='{note.pk}']")
    assert "ana" in row.inner_text()
    assert row.locator("[data-action=edit], [data-action=delete]").count() == 0
    status = other.evaluate(
        """async (id) => {
          const token = document.querySelector('[name=csrfmiddlewaretoken]').value;
          const r = await fetch('/api/annotations/notes/' + id, {
            method: 'PATCH',
            headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
            body: JSON.stringify({ text: 'Hijacked' }),
          });
          return r.status;
        }""",
        note.pk,
    )
    assert status == 403
    note.refresh_from_db()
    assert note.text == "Spring campaign live in DE"

    # The dashboard tile of the metric shows it too; a tile of another metric does not.
    other.goto(f"{portal}/dashboards/growth/?start=2026-01-18&end=2026-01-31")
    other.wait_for_function(
        """() => {
          const plot = document.querySelector('[data-tile][data-metric=seo_nonbrand_clicks] .plot');
          const trace = plot && (plot.data || []).find(t => t.name === 'annotations');
          return trace && trace.text.some(t => t.includes('live in DE'));
        }""",
        timeout=120_000,
    )
    other.wait_for_function(
        "() => [...document.querySelectorAll('[data-tile]')].every(t => t.dataset.state == 'done')",
        timeout=120_000,
    )
    others = other.evaluate(
        """() => [...document.querySelectorAll('[data-tile]')]
          .filter(t => t.dataset.metric !== 'seo_nonbrand_clicks')
          .filter(t => (t.querySelector('.plot').data || []).some(d => d.name === 'annotations'))
          .length"""
    )
    assert others == 0


DASHBOARD = "/dashboards/growth/?start=2026-01-18&end=2026-01-31"
# The note markers of each drawn tile of the page, by metric (null: no annotations trace).
TILE_NOTES = """() => Object.fromEntries([...document.querySelectorAll('[data-tile]')]
  .filter(t => t.querySelector('.plot').data)
  .map(t => {
    const trace = t.querySelector('.plot').data.find(d => d.name === 'annotations');
    return [t.dataset.metric, trace ? trace.text.filter(x => x.includes('<b>Note</b>')) : null];
  }))"""


def test_a_note_added_on_a_dashboard_is_drawn_on_its_tiles(portal, pages, lake_settings):
    user_with_role("analyst", "ana")
    page = pages.open()
    log_in(page, portal, "ana", DASHBOARD)
    wait_for_tiles(page)
    drawn = page.evaluate(TILE_NOTES)
    assert len(drawn) >= 3 and all(notes is None for notes in drawn.values())

    # A click on any tile's chart picks the day; the note is on this dashboard by default.
    page.evaluate(
        """() => document.querySelector('[data-tile][data-metric=promo_roas] .plot')
             .emit('plotly_click', { points: [{ x: '2026-01-22' }] })"""
    )
    assert page.input_value("[data-notes] input[name=at]") == "2026-01-22"
    assert page.input_value("[data-notes] select[name=scope]") == "dashboard"
    page.fill("[data-notes] input[name=text]", "Newsletter redesign shipped")
    page.click("[data-notes] button[type=submit]")

    page.wait_for_function(
        f"""() => Object.values(({TILE_NOTES})())
              .every(notes => notes && notes.some(t => t.includes('Newsletter redesign')))""",
        timeout=60_000,
    )
    wait_for_tiles(page)
    drawn = page.evaluate(TILE_NOTES)
    assert set(drawn) >= {"email_digest_ctr", "seo_nonbrand_clicks"}
    for metric, notes in drawn.items():
        assert notes == ["<b>Note</b> · 22 Jan 2026 00:00<br>ana<br>Newsletter redesign shipped"], (
            metric
        )
    note = Note.objects.get()
    assert (note.dashboard, note.metric, note.author.username) == ("growth", "", "ana")
    row = page.locator(f"[data-note-id='{note.pk}']")
    assert "this dashboard" in row.inner_text()
    assert row.locator("[data-action=edit]").count() == 1


FIGURE_NOTES = """() => Object.fromEntries([...document.querySelectorAll('[data-figure]')]
  .map(el => {
    const trace = (el.data || []).find(d => d.name === 'annotations');
    return [el.dataset.figure, trace ? trace.text.filter(x => x.includes('<b>Note</b>')) : []];
  }))"""


def test_a_note_added_on_pipeline_health_is_on_its_charts_after_the_reload(portal, pages):
    factories.health(days=14)  # as of 2026-02-01 00:30 UTC
    user_with_role("support", "sam")
    page = pages.open()
    log_in(page, portal, "sam", "/pipeline/")
    page.wait_for_selector("[data-figure=volume-figure] .main-svg")
    assert page.locator("[data-notes] select[name=scope] option").all_inner_texts() == [
        "every chart"
    ]
    page.fill("[data-notes] input[name=at]", "2026-01-25")
    page.fill("[data-notes] input[name=text]", "Collector redeployed")
    with page.expect_navigation():
        page.click("[data-notes] button[type=submit]")
    page.wait_for_selector("[data-figure=volume-figure] .main-svg")
    drawn = page.evaluate(FIGURE_NOTES)
    assert set(drawn) == {"loss-figure", "silver-figure", "gold-figure", "volume-figure"}
    for figure, notes in drawn.items():
        assert notes == ["<b>Note</b> · 25 Jan 2026 00:00<br>sam<br>Collector redeployed"], figure
    note = Note.objects.get()
    assert (note.dashboard, note.metric) == ("", "")
    page.locator(f"[data-note-id='{note.pk}']").get_by_text("every chart").wait_for()
