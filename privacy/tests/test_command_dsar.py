"""manage.py dsar file|approve|run|show, as an operator uses it."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from privacy.tests.test_lake_erasure import busy_subject

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
    assert dsar("approve", request_id, "--by", "priv-bob") == f"request {request_id} approved\n"

    out = dsar("run", request_id, "--inline").splitlines()
    per_table = {line.split("\t")[0]: line for line in out[:-1]}
    assert "rows_changed=0" not in per_table["lake.raw_events"]
    assert all("\tdone\t" in line and "remaining=0" in line for line in per_table.values())
    assert out[-1].startswith(f"request {request_id} completed: ")

    shown = json.loads(dsar("show", request_id, "--json"))
    assert shown["status"] == "completed" and shown["rows_changed"] > 0
    assert identity_id not in json.dumps(shown) and user_id not in json.dumps(shown)
    assert [e["action"] for e in shown["audit"]][:3] == [
        "dsar.filed",
        "dsar.approved",
        "dsar.started",
    ]


def test_unknown_identity_says_nothing_changed(lake_copy, privacy_users):
    request_id = dsar(
        "file", "--identity-id", "idn_unknown", "--reason", "r", "--requester", "priv-alice"
    ).strip()
    dsar("approve", request_id, "--by", "priv-bob")
    last = dsar("run", request_id, "--inline").splitlines()[-1]
    assert last == (
        f"request {request_id} completed: 0 rows changed, 0 files rewritten, verified "
        "(no row held these ids; nothing changed)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["file", "--reason", "r", "--requester", "priv-alice"], "identity_id: Give an"),
        (["file", "--user-id", "u 1", "--reason", "r", "--requester", "priv-alice"], "user_id"),
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
        dsar("file", "--user-id", "usr_1", "--reason", "r", "--requester", "ann")
