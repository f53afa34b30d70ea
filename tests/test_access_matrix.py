"""The whole access matrix: every URL of the portal (enumerated from the URL resolver, so new
pages are covered as they land) for every role, service token and anonymous visitor.

Where access is not granted the answer is 403 (or 404, for an item the subject may not know
exists) and the body holds none of the restricted data planted for this test; where it is
granted the page answers, and the portal's restricted pages show their data.

Who may see what comes from the rules of the issue, written out here: navigation sections for
pages and their APIs; finance, support and privacy data for their roles and admins only; query
runs by the data they read; service tokens only on the endpoints of their scope.
"""

import os
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from experiments.models import Experiment
from experiments.tests.builders import experiment as experiment_builder
from experiments.tests.builders import running
from portal.models import ServiceToken
from portal.navigation import SECTIONS
from portal.roles import Role
from privacy import selectors as privacy_selectors
from privacy import services as privacy
from privacy.models import ConsentChange, ConsentState
from tests.support.users import user_with_role
from warehouse import services as warehouse
from warehouse.lake import contract, storage
from warehouse.lake.contract import Access
from warehouse.lake.storage import arrow_schema
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

EVERYONE = frozenset(Role)
PRIVACY = frozenset({Role.PRIVACY, Role.ADMIN})
# Planted restricted data: none of it may appear in a refused answer.
DSAR_REASON = "matrix-secret-reason"
CONSENT_ID = "idn_matrix_consent"
FINANCE_RUN = "matrix-finance-run"
# Id prefixes of the lake's restricted rows (demo_lake): refunds, chargebacks and
# disputes; support tickets and DMCA notices.
LAKE_MARKERS = {"finance": ("rfd_", "chb_", "dsp_"), "support": ("tkt_", "dmc_")}
MARKERS = (DSAR_REASON, CONSENT_ID, FINANCE_RUN, *(m for ms in LAKE_MARKERS.values() for m in ms))
# Not for logged-in users, or without data: the login and logout forms, the Django admin
# (staff only, its own login), the API schema (no data).
SKIPPED = ("login/", "logout/", "admin/", "api/schema/")
TOKEN_SCOPES = {
    # (path pattern, method) -> scope that opens it
    (r"^api/consent/[^/]+$", "GET"): "consent:read",
    (r"^api/consent/[^/]+/pixels$", "GET"): "consent:read",
    (r"^api/consent/[^/]+$", "PUT"): "consent:write",
    (r"^api/experiments/[^/]+/assignment$", "GET"): "assignment:read",
}


@dataclass(frozen=True)
class Route:
    pattern: str  # e.g. "privacy/dsar/<int:request_id>/"
    name: str
    is_api: bool
    public: bool


def routes() -> list[Route]:
    found = []

    def walk(patterns, prefix: str = "") -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                callback = p.callback
                is_api = hasattr(callback, "cls")
                public = not is_api and getattr(callback, "login_required", True) is False
                found.append(Route(prefix + str(p.pattern), p.name or "", is_api, public))

    walk(get_resolver().url_patterns)
    return [r for r in found if not r.pattern.startswith(SKIPPED) and "(?P" not in r.pattern]


def section_roles(path: str) -> frozenset[Role]:
    """Roles of the navigation section a path belongs to (its API shares them)."""
    page = "/" + path.removeprefix("api/")
    matches = [s for s in SECTIONS if page.startswith(s.path.rstrip("/"))]
    return max(matches, key=lambda s: len(s.path)).roles if matches else EVERYONE


def allowed_roles(path: str) -> frozenset[Role]:
    if path.startswith(("api/privacy/", "api/consent/")):
        return PRIVACY
    if path.startswith("api/queries"):
        return frozenset({Role.ADMIN})
    # A run's API and its page: the planted run read finance data.
    if path.startswith("api/runs/") or (path.startswith("runs/") and path != "runs/"):
        return frozenset({Role.FINANCE, Role.ADMIN})
    if path.startswith("api/stats/"):
        return section_roles("experiments/")
    return section_roles(path)


@dataclass
class Planted:
    dsar_id: int
    run_id: int


@pytest.fixture(scope="session")
def matrix_lake(small_lake: Path, tmp_path_factory) -> Path:
    """The small lake (hard-linked) and one chargeback: the small lake has none, so without it
    a leak of chargeback ids could not be seen."""
    root = tmp_path_factory.mktemp("matrix") / "lake"
    shutil.copytree(small_lake, root, copy_function=os.link)
    table = contract.table("fin_chargebacks")
    row = {
        "chargeback_id": "chb_matrix000001",
        "booking_id": "bkg_matrix000001",
        "user_id": "usr_matrix000001",
        "amount_cents": 4_200,
        "received_ts": datetime(2026, 1, 25, 12),
        "resolved_ts": None,
        "outcome": "pending",
        "card_country": "DE",
    }
    data = pa.Table.from_pylist([row], schema=arrow_schema(table))
    storage.write_parquet(data, storage.partition_dir(root, table, "2026-01-25") / "part-m.parquet")
    storage.bump_watermark(root)
    return root


@pytest.fixture
def planted(matrix_lake, settings) -> Planted:
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = matrix_lake
    settings.QUERY_WAIT_SECONDS = 0
    requester = user_with_role("privacy", "matrix-requester")
    dsar = privacy.dsar_file(
        identity_id="idn_0000000ab5ec", reason=DSAR_REASON, requester=requester
    )
    privacy.consent_set(identity_id=CONSENT_ID, flags={"marketing": True}, source="api", actor="a")
    run = warehouse.query_submit(
        sql="SELECT count(*) AS n FROM finance_cases_v WHERE event_dt BETWEEN :d AND current_date",
        params={"d": date(2026, 1, 1)},
        scope=frozenset({Access.GENERAL, Access.FINANCE_VIEW}),
        label=FINANCE_RUN,
    ).run
    warehouse.query_run_execute(run_id=run.pk)
    return Planted(dsar_id=dsar.pk, run_id=run.pk)


def sample_path(route: Route, planted: Planted, **given) -> str:
    values = {
        "request_id": planted.dsar_id,
        "run_id": planted.run_id,
        "identity_id": CONSENT_ID,
        # A restricted metric (support's): others must not learn it exists.
        "slug": "sla_breach_count" if route.pattern.startswith(("metrics", "api/metrics")) else "x",
        **given,
    }

    def fill(match: re.Match) -> str:
        converter, name = match[1], match[2]
        return str(values.get(name, 1 if converter == "int" else "x"))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route.pattern)


def run_queued() -> None:
    for run_id in QueryRun.objects.filter(status="queued").values_list("pk", flat=True):
        warehouse.query_run_execute(run_id=run_id)


def call(client: Client, route: Route, path: str, method: str, **headers):
    if method == "GET":
        response = client.get(path, **headers)
        if response.status_code == 200 and QueryRun.objects.filter(status="queued").exists():
            run_queued()  # the page's queries, without a worker; then the page again
            response = client.get(path, **headers)
        return response
    return getattr(client, method.lower())(path, {}, content_type="application/json", **headers)


def methods(client: Client, path: str, **headers) -> list[str]:
    """GET, or the write method of an endpoint that has no GET."""
    response = client.options(path, **headers)
    allow = response.headers.get("Allow", "")
    if allow and "GET" not in allow:
        return [m for m in ("POST", "PUT") if m in allow][:1] or ["POST"]
    return ["GET"]


SUBJECTS = [*(r.value for r in Role), "anonymous", *ServiceToken.SCOPES]


def is_write(route: Route, method: str) -> bool:
    """Actions (forms that create or change things, and every POST/PUT): their owning app may
    narrow them to fewer roles than the section's readers (analysts are read-only)."""
    return method != "GET" or bool(re.search(r"(^|/)(new|edit)/$", route.pattern))


def verdict(subject: str, role: Role | None, route: Route, path: str, method: str, response):
    """None if the answer is right for the subject, else what is wrong."""
    status = response.status_code
    body = response.content.decode(errors="replace")
    if status >= 500:
        return f"server error {status}"
    if subject == "anonymous":
        expected = (401, 403) if route.is_api else (302,)
        return None if status in expected else f"{status}, expected {expected}"
    if role is None:  # a service token
        opened = any(
            re.match(p, path.lstrip("/")) and m == method and scope == subject
            for (p, m), scope in TOKEN_SCOPES.items()
        )
        if opened:
            return None if status not in (401, 403) else f"{status}: its scope opens it"
        if not route.is_api:
            return None if status == 302 else f"{status}: pages need a login"
        if status not in (401, 403):
            return f"{status}: a {subject} token must not open this"
        return _leaks(body)
    if role in allowed_roles(route.pattern):
        if status == 403 and not is_write(route, method):
            return "403 for a role that may read it"
        return None if status != 403 else _leaks(body)
    if status not in (403, 404):
        return f"{status}: the {role} role must be refused"
    return _leaks(body)


def _leaks(body: str) -> str | None:
    leaked = [m for m in MARKERS if m in body]
    return f"refused, but the body holds {leaked}" if leaked else None


@pytest.mark.parametrize("subject", SUBJECTS)
def test_every_url_for_every_subject(subject, planted, small_lake):
    client, headers, role = Client(), {}, None
    if subject in {r.value for r in Role}:
        role = Role(subject)
        client.force_login(user_with_role(subject, f"matrix-{subject}"))
    elif subject != "anonymous":
        token = ServiceToken.generate()
        ServiceToken.objects.create(
            name="matrix", token_hash=ServiceToken.hash(token), scopes=[subject]
        )
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    wrong, checked = [], 0
    for route in routes():
        if route.public:
            continue
        path = sample_path(route, planted)
        for method in methods(client, path, **headers):
            response = call(client, route, path, method, **headers)
            checked += 1
            if problem := verdict(subject, role, route, path, method, response):
                wrong.append(f"{method} {path}: {problem}")
    assert not wrong, f"{subject}:\n" + "\n".join(wrong)
    assert checked > 40


@pytest.mark.parametrize(
    ("path", "roles", "markers"),
    [
        ("/finance/?start=2026-01-18&end=2026-01-31", {Role.FINANCE}, LAKE_MARKERS["finance"]),
        ("/support/?start=2026-01-18&end=2026-01-31", {Role.SUPPORT}, LAKE_MARKERS["support"]),
        ("/privacy/dsar/", {Role.PRIVACY}, ("matrix-requester",)),
        (f"/privacy/consent/?identity_id={CONSENT_ID}", {Role.PRIVACY}, ("given",)),
        ("/runs/", {Role.FINANCE}, (FINANCE_RUN,)),
    ],
)
def test_the_allowed_roles_see_the_data_and_no_one_else(path, roles, markers, planted):
    # Every marker shows for the allowed roles: a leak of it elsewhere would be seen.
    for role in Role:
        client = Client()
        client.force_login(user_with_role(role.value, f"seer-{role.value}"))
        response = call(client, Route(path, "", False, False), path, "GET")
        body = response.content.decode()
        if role in roles or role == Role.ADMIN:
            assert response.status_code == 200, role
            assert [m for m in markers if m not in body] == [], role
        else:
            assert [m for m in markers if m in body] == [], role


def test_metrics_api_refuses_service_tokens(db):
    token = ServiceToken.generate()
    ServiceToken.objects.create(
        name="app", token_hash=ServiceToken.hash(token), scopes=["consent:read"]
    )
    for path in ("/api/metrics/", "/api/dashboards/"):
        answer = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert answer.status_code == 403, path


@pytest.mark.parametrize("role", sorted(set(Role) - PRIVACY))
def test_consent_put_by_other_roles_is_403_and_changes_nothing(role, planted):
    def consent() -> tuple[list, list]:
        return list(ConsentState.objects.values()), list(ConsentChange.objects.values())

    before = consent()
    client = Client()
    client.force_login(user_with_role(role.value, f"writer-{role.value}"))
    for identity_id in (CONSENT_ID, "idn_matrix_unseen"):
        answer = client.put(
            f"/api/consent/{identity_id}", {"marketing": False}, content_type="application/json"
        )
        assert answer.status_code == 403, (role, identity_id)
        assert _leaks(answer.content.decode()) is None
    assert consent() == before
    assert privacy_selectors.consent_get(identity_id=CONSENT_ID)["marketing"] is True
    # The same request by the privacy team goes through: the 403 above is the role's. (A person
    # gives the subject's instruction and its evidence.)
    team = Client()
    team.force_login(user_with_role("privacy", "writer-privacy"))
    proof = {"instruction": "subject_email", "evidence": "e-mail of 7 Dec"}
    answer = team.put(
        f"/api/consent/{CONSENT_ID}",
        {"marketing": False, **proof},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["marketing"] is False


# POSTs analysts may make: computations that change nothing (POST only because their input is
# a body), notes on charts (anyone who reads charts may annotate them) and saved views (one's
# own bookmarks of pages one may read). Every other POST a PM may make is a write, refused to
# analysts.
ANALYST_POSTS = (
    "api/stats/compare",
    "api/stats/mde",
    "api/annotations/notes",
    "api/views/",
    "views/",
)


def test_analysts_are_refused_every_write_a_pm_may_make(planted):
    draft = experiment_builder("exp_matrix_draft")
    live = running("exp_matrix_live")

    def state() -> dict[str, int | list]:
        counts = {m._meta.label: m.objects.count() for m in apps.get_models()}
        experiments = list(Experiment.objects.order_by("pk").values())
        return counts | {"experiments": experiments}

    def post(client: Client, route: Route, key: str):
        path = sample_path(route, planted, key=key)
        if route.is_api:
            return client.post(path, {}, content_type="application/json")
        return client.post(path, {})

    # Each route once, those of one experiment for a draft and for a running one.
    keyed = (draft.key, live.key)
    targets = [
        (route, key)
        for route in routes()
        if not route.public and not route.pattern.startswith(ANALYST_POSTS)
        for key in (keyed if "<slug:key>" in route.pattern else keyed[:1])
    ]
    analyst, pm = Client(), Client()
    analyst.force_login(user_with_role("analyst", "matrix-analyst"))
    pm.force_login(user_with_role("pm", "matrix-pm"))
    before = state()
    refused = {(r.pattern, key): post(analyst, r, key).status_code == 403 for r, key in targets}
    assert state() == before  # the analyst's POSTs changed nothing

    pm_writes = {
        (r.pattern, key)
        for r, key in targets
        if post(pm, r, key).status_code not in (403, 404, 405)
    }
    # The writes this test is about are among them (else it would check nothing).
    assert {p for p, _ in pm_writes} >= {
        "experiments/new/",
        "experiments/<slug:key>/edit/",
        "experiments/<slug:key>/launch/",
        "experiments/<slug:key>/kill/",
        "experiments/<slug:key>/conclude/",
        "experiments/<slug:key>/results/refresh/",
    }
    allowed = sorted(f"POST {p} ({key})" for p, key in pm_writes if not refused[(p, key)])
    assert not allowed, "analysts may write:\n" + "\n".join(allowed)
