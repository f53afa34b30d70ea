"""Saved views: saved from a page's URL, private or shared with a role, listed only where the
viewer's role may read their data; changed by their owner only; on the page and the API."""

import pytest
from django.test import Client

from saved_views import selectors, services
from saved_views.models import SavedView
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db

MARKET = "/dashboards/marketplace-health/?days=28&grain=week&compare=previous"
SUPPORT_METRIC = "/metrics/sla_breach_count/?days=7"  # the support role's metric


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_view_keeps_the_whole_state_of_its_page():
    ann = user_with_role("analyst", "ann")
    view = services.saved_view_create(owner=ann, name=" Weekly market ", url=MARKET)
    assert (view.name, view.kind, view.target) == (
        "Weekly market",
        "dashboard",
        "marketplace-health",
    )
    assert view.url == MARKET and view.shared_with == ""
    explore = services.saved_view_create(
        owner=ann,
        name="bookings by country",
        url="/explore/?metric=search_to_view_ctr&breakdown=platform",
    )
    assert (explore.kind, explore.target) == ("explore", "search_to_view_ctr")


@pytest.mark.parametrize(
    ("url", "field", "words"),
    [
        ("https://evil.example/dashboards/growth/", "url", "path on the portal"),
        ("/runs/", "url", "Only dashboards, metric pages and explore views"),
        ("/no/such/page/", "url", "No page"),
        ("/explore/?grain=week", "url", "Pick a metric"),
        ("/dashboards/marketplace-health/?" + "x" * 2100, "url", "longer than"),
        (SUPPORT_METRIC, "url", "may not read"),  # an analyst may not read support's metric
    ],
)
def test_what_cannot_be_saved_is_refused_naming_the_field(url, field, words):
    ann = user_with_role("analyst", "ann")
    with pytest.raises(Exception) as refused:
        services.saved_view_create(owner=ann, name="v", url=url)
    assert words in " ".join(refused.value.message_dict[field])
    assert not SavedView.objects.exists()


def test_a_shared_view_reaches_only_roles_that_may_read_its_data():
    sue = user_with_role("support", "sue")
    with pytest.raises(Exception) as refused:  # analysts may not read support's metric
        services.saved_view_create(
            owner=sue, name="breaches", url=SUPPORT_METRIC, shared_with="analyst"
        )
    assert "may not read" in refused.value.message_dict["shared_with"][0]
    shared = services.saved_view_create(
        owner=sue, name="breaches", url=SUPPORT_METRIC, shared_with="support"
    )
    market = services.saved_view_create(owner=sue, name="market", url=MARKET, shared_with="analyst")
    sam, ann = user_with_role("support", "sam"), user_with_role("analyst", "ann")
    assert [v.pk for v in selectors.saved_views_for(sam)] == [shared.pk]
    assert [v.pk for v in selectors.saved_views_for(ann)] == [market.pk]
    # Another analyst's private view is nobody else's.
    services.saved_view_create(owner=ann, name="mine", url=MARKET)
    assert "mine" not in [
        v.name for v in selectors.saved_views_for(user_with_role("analyst", "al"))
    ]
    # Not listed, and not found either when asked for by id.
    assert selectors.saved_view_get(view_id=shared.pk, user=ann) is None


def test_only_the_owner_changes_a_view_through_the_api():
    ann, al = user_with_role("analyst", "ann"), user_with_role("analyst", "al")
    owner, other = logged_in(ann), logged_in(al)
    created = owner.post(
        "/api/views/",
        {"name": "market", "url": MARKET, "shared_with": "analyst"},
        "application/json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["url"] == MARKET and body["mine"] and body["owner"] == "ann"
    duplicate = owner.post("/api/views/", {"name": "market", "url": MARKET}, "application/json")
    assert duplicate.status_code == 400 and "name" in duplicate.json()
    url = f"/api/views/{body['id']}"
    listed = other.get("/api/views/").json()["views"]
    assert [(v["name"], v["mine"]) for v in listed] == [("market", False)]
    assert other.patch(url, {"name": "x"}, "application/json").status_code == 403
    assert other.delete(url).status_code == 403
    bad = owner.patch(url, {"shared_with": "nobody"}, "application/json")
    assert bad.status_code == 400 and "shared_with" in bad.json()
    renamed = owner.patch(url, {"name": "market weekly", "shared_with": ""}, "application/json")
    assert renamed.json()["name"] == "market weekly" and renamed.json()["shared_with"] == ""
    assert other.get(url).status_code == 404  # private again: not found for others
    deleted = owner.delete(url)
    assert deleted.status_code == 200 and deleted.json()["name"] == "market weekly"
    assert not SavedView.objects.exists()


def test_save_from_a_page_and_manage_on_the_list(django_assert_max_num_queries):
    ann = user_with_role("analyst", "ann")
    client = logged_in(ann)
    page = client.get("/dashboards/marketplace-health/?days=28").content.decode()
    assert "Save this view" in page and 'value="/dashboards/marketplace-health/?days=28"' in page
    explore = client.get("/explore/?metric=search_to_view_ctr&grain=week").content.decode()
    assert 'value="/explore/?metric=search_to_view_ctr&amp;grain=week"' in explore
    saved = client.post(
        "/views/", {"name": "four weeks", "url": "/dashboards/marketplace-health/?days=28"}
    )
    assert (
        saved.status_code == 302 and saved["Location"] == "/dashboards/marketplace-health/?days=28"
    )
    again = client.post("/views/", {"name": "four weeks", "url": "/dashboards/growth/"})
    assert again.status_code == 400 and "already have a view" in again.content.decode()
    view = SavedView.objects.get()
    client.post(f"/views/{view.pk}/", {"action": "save", "name": "4w", "shared_with": "pm"})
    view.refresh_from_db()
    assert (view.name, view.shared_with) == ("4w", "pm")
    pat = logged_in(user_with_role("pm", "pat"))
    with django_assert_max_num_queries(4):  # session, user, groups, views: however many
        shared = pat.get("/views/").content.decode()
    assert "4w" in shared and "ann" in shared
    assert pat.post(f"/views/{view.pk}/", {"action": "delete"}).status_code == 403
    client.post(f"/views/{view.pk}/", {"action": "delete"})
    assert not SavedView.objects.exists()
