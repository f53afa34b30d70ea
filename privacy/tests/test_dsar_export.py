"""A DSAR access request end to end on a private lake: the export holds every row of the
subject (filed and linked ids) and no other, checked against pandas over the lake files; the lake
is left as it was; the zip is written whole, expires and is deleted."""

import datetime
import hashlib
import json
import math
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from pipeline.models import DeadLetterReason
from privacy import dsar_job, services
from privacy.dsar_export import OTHER
from privacy.dsar_preview import dsar_preview_compute
from privacy.models import AuditEvent, DsarRequest
from privacy.tests.builders import busy_subject, holds, linked
from privacy.tests.conftest import read_table
from warehouse.lake import contract, erasure

pytestmark = pytest.mark.django_db


def access_request(privacy_users, **ids) -> DsarRequest:
    alice, bob = privacy_users
    dsar = services.dsar_file(
        kind="access", **ids, reason="asked for a copy by e-mail", requester=alice, enqueue=False
    )
    dsar_preview_compute(request_id=dsar.pk)
    services.dsar_verify(request_id=dsar.pk, method="email_confirmation", actor=alice)
    services.dsar_approve(request_id=dsar.pk, approver=bob)
    return services.dsar_queue(request_id=dsar.pk, enqueue=False)


# Any id of the lake contract's formats, written here from the contract's documentation.
ANY_ID = re.compile(r"(?:idn|usr)_[0-9a-f]{12}(?![0-9a-f])")


def plain(value):
    """A value as JSON gives it back: None for missing, ISO text for times, whole floats as
    ints (pandas reads a nullable integer column as floats)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime.datetime | datetime.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def reference_rows(frame: pd.DataFrame, table, ids: set[str]) -> list[dict]:
    rows = []
    for record in frame.drop(columns="_file").to_dict("records"):
        row = {column: plain(record[column]) for column in table.column_names}
        for column in table.identity_columns:
            if row[column] is not None and row[column] not in ids:
                row[column] = OTHER
        for column in ("payload",):
            if row.get(column):
                row[column] = ANY_ID.sub(lambda m: m[0] if m[0] in ids else OTHER, row[column])
        rows.append(row)
    return rows


def canonical(row: dict) -> str:
    return json.dumps({k: plain(v) for k, v in row.items()}, sort_keys=True)


def exported(path: Path) -> tuple[dict, dict[str, list[dict]], dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        raw = {f["path"]: archive.read(f["path"]) for f in manifest["files"]}
        assert sorted(archive.namelist()) == sorted(["manifest.json", *raw])
    return manifest, {p: json.loads(data) for p, data in raw.items()}, raw


def test_an_access_export_holds_every_row_of_the_subject_and_no_other(
    lake_copy, privacy_users, settings, tmp_path
):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    identity_id, user_id = busy_subject(lake_copy)
    ids = {identity_id, user_id, *linked(lake_copy, [identity_id, user_id])}
    services.consent_set(
        identity_id=identity_id, flags={"analytics": True}, source="api", actor="app"
    )
    DeadLetterReason.objects.create(
        reason="schema_mismatch",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
        samples=[
            {"payload": json.dumps({"identity_id": identity_id}), "received_ts": "t"},
            {"payload": json.dumps({"identity_id": identity_id + "9"}), "received_ts": "t"},
        ],
    )
    inodes = {str(p): p.stat().st_ino for p in lake_copy.rglob("*.parquet")}

    dsar = access_request(privacy_users, identity_id=identity_id, user_id=user_id)
    done = dsar_job.dsar_execute(request_id=dsar.pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    path = Path(settings.PRIVACY_EXPORT_DIR) / done.export_file
    assert path.is_file() and list(path.parent.iterdir()) == [path]  # no temporary file left
    assert path.stat().st_mode & 0o077 == 0  # for the portal's user only
    manifest, files, raw = exported(path)
    # The reference: pandas over the lake files, table by table.
    expected = {}
    for table in erasure.erasable_tables():
        frame = read_table(lake_copy, table.name)
        rows = frame[holds(frame, table, ids)]
        if len(rows):
            expected[f"lake/{table.name}.json"] = rows
    lake_files = {p: rows for p, rows in files.items() if p.startswith("lake/")}
    assert set(lake_files) == set(expected)
    for path_in_zip, rows in lake_files.items():
        table = contract.table(path_in_zip.split("/")[1].removesuffix(".json"))
        assert list(rows[0]) == list(table.column_names)
        # Every column of every row, as pandas read it, with other people's ids hidden.
        reference = reference_rows(expected[path_in_zip], table, ids)
        assert sorted(map(canonical, rows)) == sorted(map(canonical, reference)), path_in_zip
        for row in rows:
            for column in table.identity_columns:
                assert row[column] in ids | {None, OTHER}
    assert [r["analytics"] for r in files["portal/consent_state.json"]] == [True]
    samples = files["portal/dead_letter_samples.json"]
    assert [json.loads(s["payload"])["identity_id"] for s in samples] == [identity_id]
    # The manifest describes each file truly.
    for entry in manifest["files"]:
        assert entry["rows"] == len(files[entry["path"]])
        assert entry["sha256"] == hashlib.sha256(raw[entry["path"]]).hexdigest()
    assert manifest["ids"]["linked"] == len(ids) - 2
    # Nothing in the lake changed; the request keeps counts, not ids.
    assert {str(p): p.stat().st_ino for p in lake_copy.rglob("*.parquet")} == inodes
    assert done.identity_id == done.user_id == "" and done.linked_ids == []
    assert sum(t["rows"] for t in done.export_tables) == sum(len(r) for r in files.values())
    assert done.export_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    event = done.audit.get(action=AuditEvent.Action.DSAR_EXPORTED)
    assert identity_id not in json.dumps(event.detail)


def done_file(dsar: DsarRequest) -> Path:
    export_dir = Path(django_settings.PRIVACY_EXPORT_DIR)
    return export_dir / DsarRequest.objects.get(pk=dsar.pk).export_file


def test_an_export_expires_and_is_deleted(lake_copy, privacy_users, settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    identity_id, _ = busy_subject(lake_copy)
    dsar = access_request(privacy_users, identity_id=identity_id)
    dsar_job.dsar_execute(request_id=dsar.pk)
    alice, _ = privacy_users
    with services.dsar_export_download(request_id=dsar.pk, actor=alice) as export:
        assert zipfile.ZipFile(export).read("manifest.json")

    assert services.dsar_exports_expire(actor="sweeper") == 0  # not yet
    # A zip no request names (a killed job's), old enough: deleted by the same sweep.
    orphan = tmp_path / "exports" / "dsar-999-1-access.zip"
    orphan.write_bytes(b"personal data")
    os.utime(orphan, (0, 0))
    services.dsar_exports_expire(actor="sweeper")
    assert not orphan.exists() and done_file(dsar).exists()
    DsarRequest.objects.filter(pk=dsar.pk).update(
        export_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    with pytest.raises(services.ExportExpired, match="expired"):
        services.dsar_export_download(request_id=dsar.pk, actor=alice)
    assert services.dsar_exports_expire(actor="sweeper") == 1
    assert not list((tmp_path / "exports").iterdir())
    assert services.dsar_exports_expire(actor="sweeper") == 0  # once
    actions = list(DsarRequest.objects.get(pk=dsar.pk).audit.values_list("action", flat=True))
    assert actions.count("dsar.export_downloaded") == 1
    assert actions.count("dsar.export_expired") == 1


def test_with_a_postgres_warehouse_its_copy_of_the_rows_is_exported_too(
    lake_copy, pg_warehouse, privacy_users, settings, tmp_path
):
    settings.PRIVACY_EXPORT_DIR = tmp_path / "exports"
    identity_id, user_id = busy_subject(lake_copy)
    dsar = access_request(privacy_users, identity_id=identity_id, user_id=user_id)
    done = dsar_job.dsar_execute(request_id=dsar.pk)
    assert done.status == DsarRequest.Status.COMPLETED, done.error
    _, files, _ = exported(Path(settings.PRIVACY_EXPORT_DIR) / done.export_file)
    lake = {p.split("/")[1]: rows for p, rows in files.items() if p.startswith("lake/")}
    remote = {p.split("/")[1]: rows for p, rows in files.items() if p.startswith("postgres/")}
    assert lake and set(remote) == set(lake)
    for name, rows in lake.items():
        table = contract.table(name.removesuffix(".json"))
        first = table.column_names[0]
        # The warehouse holds the lake's rows: the same ones come out of both.
        assert sorted(str(r[first]) for r in remote[name]) == sorted(str(r[first]) for r in rows)
        assert list(remote[name][0]) == list(table.column_names)
