"""manage.py dsar file|approve|run|show, as an operator uses it."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from privacy.management.commands import dsar as dsar_command
from privacy.models import DsarRequest
from privacy.tests.builders import busy_subject, holds
from privacy.tests.conftest import read_table
from warehouse.engines.pg_loader import load_lake
from warehouse.lake import erasure

pytestmark = pytest.mark.django_db


def dsar(*args: str) -> str:
    out = io.StringIO()
    call_command("dsar", *args, stdout=out)
    return out.getvalue()


def test_file_approve_run_show(lake_copy, privacy_users):
    identity_id, user_id = busy_subject(lake_copy)
    request_id = dsar(
        "file",
        "--identity-id",
        identity_id,
        "--user-id",
        user_id,
        "--reason",
        "asked",
        "--requester",
        "priv-alice",
    ).strip()
    assert request_id.isdigit()
    with pytest.raises(CommandError, match="has not been approved"):
        dsar("run", request_id, "--inline")
    with pytest.raises(CommandError, match="someone other than its requester"):
        dsar("approve", request_id, "--by", "priv-alice")
    with pytest.raises(CommandError, match="identity was verified"):
        dsar("approve", request_id, "--by", "priv-bob")
    dsar("verify", request_id, "--method", "account_login", "--by", "priv-alice")
    assert dsar("approve", request_id, "--by", "priv-bob") == f"request {request_id} approved\n"

    out = dsar("run", request_id, "--inline").splitlines()
    per_table = {line.split("\t")[0]: line for line in out[:-1]}
    assert "rows_changed=0" not in per_table["lake.raw_events"]
    assert all("\tdone\t" in line and "remaining=0" in line for line in per_table.values())
    assert out[-1].startswith(f"request {request_id} completed: ")

    shown = json.loads(dsar("show", request_id, "--json"))
    assert shown["status"] == "completed" and shown["rows_changed"] > 0
    assert identity_id not in json.dumps(shown) and user_id not in json.dumps(shown)
    assert [e["action"] for e in shown["audit"]][:4] == [
        "dsar.filed",
        "dsar.previewed",
        "dsar.identity_verified",
        "dsar.approved",
    ]


def test_file_prints_the_preview_and_an_unknown_subject_is_one_line_and_non_zero(
    lake_copy, privacy_users
):
    identity_id, _ = busy_subject(lake_copy)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "dsar", "file", "--identity-id", identity_id, "--reason", "r", "--requester",
        "priv-alice", stdout=out, stderr=err,
    )  # fmt: skip
    request_id = out.getvalue().strip()
    preview = DsarRequest.objects.get(pk=request_id).preview
    assert err.getvalue().startswith(
        f"request {request_id} would change {preview['rows']} rows in {preview['files']} files"
    )
    assert preview["rows"] > 0 and identity_id not in err.getvalue()

    with pytest.raises(CommandError) as refused:
        dsar(
            "file",
            "--identity-id",
            "idn_00000000dead",
            "--reason",
            "r",
            "--requester",
            "priv-alice",
        )
    assert str(refused.value).endswith(
        "closed as an unknown subject: no id column holds the identity_id; "
        "nothing will be erased or exported"
    )
    assert "\n" not in str(refused.value)
    closed = DsarRequest.objects.get(status="unknown_subject")
    assert closed.identity_id == ""  # closed: the id is forgotten, its hash kept
    with pytest.raises(CommandError, match="not awaiting approval"):
        dsar("approve", str(closed.pk), "--by", "priv-bob")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["file", "--reason", "r", "--requester", "priv-alice"], "identity_id: Give an"),
        (["file", "--user-id", "u 1", "--reason", "r", "--requester", "priv-alice"], "user_id"),
        (
            ["file", "--identity-id", "leipzig", "--reason", "r", "--requester", "priv-alice"],
            "^identity_id: Not an id of the lake contract: use idn_ followed by 12",
        ),
        (["file", "--user-id", "usr_1", "--reason", "r", "--requester", "nobody"], "no user"),
        (["show", "12345"], "no DSAR request 12345"),
        (["approve", "12345", "--by", "priv-bob"], "no DSAR request 12345"),
    ],
)
def test_bad_input_is_one_readable_line(privacy_users, args, message):
    with pytest.raises(CommandError, match=message):
        dsar(*args)


def test_only_privacy_users_file(privacy_users):
    from tests.support.users import user_with_role

    user_with_role("analyst", "ann")
    with pytest.raises(CommandError, match="Only the privacy team"):
        dsar("file", "--user-id", "usr_000000000001", "--reason", "r", "--requester", "ann")


def approved_request(identity_id: str, user_id: str = "") -> str:
    ids = ["--identity-id", identity_id] + (["--user-id", user_id] if user_id else [])
    request_id = dsar("file", *ids, "--reason", "asked", "--requester", "priv-alice").strip()
    dsar("verify", request_id, "--method", "account_login", "--by", "priv-alice")
    dsar("approve", request_id, "--by", "priv-bob")
    return request_id


def fields(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split("\t") if "=" in item)


def test_run_prints_the_files_that_held_the_ids_next_to_the_files_rewritten(
    lake_copy, privacy_users
):
    ids = busy_subject(lake_copy)
    held = {}  # files holding the ids per table, by pandas over the lake before the run
    for table in erasure.erasable_tables():
        frame = read_table(lake_copy, table.name)
        held[f"lake.{table.name}"] = frame.loc[holds(frame, table, ids), "_file"].nunique()
    assert sum(held.values()) > len(held)

    out = dsar("run", approved_request(*ids), "--inline").splitlines()

    tables = [line for line in out if "\t" in line]
    printed = {line.split("\t")[0]: fields(line) for line in tables}
    assert {
        where: (int(f["files_with_ids"]), int(f["files_rewritten"])) for where, f in printed.items()
    } == {where: (files, files) for where, files in held.items()}
    for line in tables:  # side by side
        columns = [item.split("=")[0] for item in line.split("\t")]
        assert columns[columns.index("files_with_ids") + 1] == "files_rewritten"


def test_run_prints_what_is_still_to_do_physically_in_a_remote_warehouse(
    lake_copy, pg_database, privacy_users, settings
):
    names = [t.name for t in erasure.erasable_tables()]
    load_lake(pg_database, lake_copy, tables=names, schema="lake")
    settings.WAREHOUSE = "postgres"
    settings.WAREHOUSE_POSTGRES_URL = pg_database
    request_id = approved_request(*busy_subject(lake_copy))

    out = dsar("run", request_id, "--inline").splitlines()

    assert out[-1].startswith(f"request {request_id} completed: ")
    header = out.index("still to do physically in the warehouse:")
    assert {line.split("\t")[0] for line in out[:header]} == {
        f"{target}.{name}" for target in ("lake", "postgres") for name in names
    }
    steps = out[header + 1 : -1]
    assert [s.split(" -- ")[0] for s in steps] == [f'  VACUUM "lake"."{n}"' for n in names]
    shown = json.loads(dsar("show", request_id, "--json"))
    assert steps == [f"  {step}" for step in shown["physical_followup"]]


def test_run_without_a_worker_says_so_once_and_keeps_waiting(lake_copy, privacy_users, monkeypatch):
    # Nothing consumes the queue here: the test's transaction never commits, so the job is
    # not even sent.
    monkeypatch.setattr(dsar_command, "WORKER_HINT_AFTER_S", 0.2)
    request_id = approved_request(busy_subject(lake_copy)[0])
    out = io.StringIO()
    with pytest.raises(CommandError, match=f"request {request_id} is still queued"):
        call_command("dsar", "run", request_id, "--timeout", "1.5", stdout=out)
    hints = [line for line in out.getvalue().splitlines() if "--inline" in line]
    assert len(hints) == 1
    assert "no Celery worker" in hints[0] and "still waiting" in hints[0]


def test_run_says_how_many_linked_ids_it_erased_too(lake_copy, privacy_users):
    dim = read_table(lake_copy, "dim_identities").dropna(subset=["user_id"])
    identity_id, user_id = dim.sort_values("identity_id").iloc[0][["identity_id", "user_id"]]
    # By pandas: the identity's user (1), and that user's identities but this one (n - 1).
    linked = int((dim["user_id"] == user_id).sum())

    out = dsar("run", approved_request(identity_id), "--inline").splitlines()

    assert f"ids linked in dim_identities, erased too: {linked}" in out
