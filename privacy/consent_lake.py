"""The lake writer of consent: the portal's consent changes appended to the lake's
consent_changes, the one record of consent the pipeline also loads.

On the embedded lake each write is a new Parquet file in the day's partition, written under a
temporary name and renamed into place, then the table's watermark moves. On a remote warehouse
(PostgreSQL, Redshift, Athena) it is one INSERT. Either way a write is all or nothing: a
failure raises ConsentLakeUnavailable and leaves the table as it was."""

import datetime
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.conf import settings

from core.engines import REMOTE_ENGINES
from warehouse import watermark
from warehouse.engines.base import WarehouseError
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import contract, replace_sql, storage
from warehouse.selectors import without_server_paths

TABLE = contract.table("consent_changes")
# The pipeline's format of change ids (demo_lake writes them the same way): cns_ + 12 hex.
CHANGE_ID_PREFIX = "cns_"
FILE_PREFIX = "portal-"


class ConsentLakeUnavailable(Exception):
    """The change could not be written to the lake's consent_changes; nothing was written."""


def change_id_new() -> str:
    """A fresh change id: 48 random bits, as unlikely to meet the pipeline's as each other."""
    return CHANGE_ID_PREFIX + secrets.token_hex(6)


def change_id_of_portal_row(pk: int) -> str:
    """The change id of a portal change recorded before the portal wrote to the lake: derived
    from its primary key, so that pushing it again (after a failure between the lake write and
    the link) writes the same row, not a second one."""
    digest = hmac.new(settings.PRIVACY_HASH_KEY.encode(), f"consent-change:{pk}".encode(), sha256)
    return CHANGE_ID_PREFIX + digest.hexdigest()[:12]


@dataclass(frozen=True)
class LakeChange:
    """One row of consent_changes as the portal writes it."""

    change_id: str
    identity_id: str
    flag: str
    value: bool
    source: str
    changed_at: datetime.datetime  # aware

    @property
    def changed_ts(self) -> datetime.datetime:
        # The contract's timestamps are UTC without a time zone.
        return self.changed_at.astimezone(datetime.UTC).replace(tzinfo=None)

    @property
    def day(self) -> datetime.date:
        return self.changed_ts.date()

    def row(self) -> dict[str, Any]:
        return {
            "change_id": self.change_id,
            "identity_id": self.identity_id,
            # The portal knows identities only; dim_identities links them to their users.
            "user_id": None,
            "flag": self.flag,
            "value": self.value,
            "source": self.source,
            "changed_ts": self.changed_ts,
        }


def consent_changes_append(*, changes: Sequence[LakeChange]) -> str:
    """Append ``changes`` (all of one day: one file, one statement) to consent_changes of the
    active warehouse; returns where they went. Raises ConsentLakeUnavailable when they could not
    be written, in which case none was."""
    days = {change.day for change in changes}
    if len(days) != 1:
        raise ValueError(f"changes of one day are appended at a time, not of {len(days)}")
    engine = settings.WAREHOUSE
    try:
        if engine in REMOTE_ENGINES:
            return _insert(engine, changes)
        return str(_write_file(Path(settings.LAKE_ROOT), changes))
    except (OSError, pa.ArrowException, WarehouseError) as err:
        reason = without_server_paths(" ".join(str(err).split())) or type(err).__name__
        raise ConsentLakeUnavailable(
            f"the lake's consent_changes could not be written ({reason}); "
            "the consent was not changed, try again later"
        ) from err


def change_file(root: Path, change: LakeChange) -> Path:
    """A write's file: in its day's partition, named after its first change."""
    partition = storage.partition_dir(root, TABLE, change.day.isoformat())
    return partition / f"{FILE_PREFIX}{change.change_id}.parquet"


def _write_file(root: Path, changes: Sequence[LakeChange]) -> Path:
    data = pa.Table.from_pylist([c.row() for c in changes], schema=storage.arrow_schema(TABLE))
    path = storage.write_parquet(data, change_file(root, changes[0]))
    try:
        storage.bump_watermark(root, tables=[TABLE.name])
    except OSError:
        # Cached results would not see the file: take it back, so the write fails as a whole.
        path.unlink(missing_ok=True)
        raise
    return path


def _insert(engine: str, changes: Sequence[LakeChange]) -> str:
    warehouse = get_remote_engine(engine)
    insert = replace_sql.day_insert(
        TABLE, engine, warehouse.schema, changes[0].day, [c.row() for c in changes]
    )
    with warehouse.write_session() as session:
        if TABLE.name not in session.table_names():
            raise WarehouseError(f"{engine} has no {TABLE.name} table")
        session.execute(insert)
    watermark.remote_changed(engine, f"consent-{changes[0].change_id}", tables=[TABLE.name])
    where = f"{warehouse.schema}.{TABLE.name}" if warehouse.schema else TABLE.name
    return f"{engine} {where}"
