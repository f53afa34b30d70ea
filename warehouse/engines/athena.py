"""Amazon Athena through pyathena's PandasCursor.

The PandasCursor reads the result CSV from S3 in one request and types its columns from
Athena's result metadata (bigint -> Int64, double -> float64, date -> datetime64), where the
plain cursor would page through GetQueryResults 1,000 rows at a time.
"""

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, Self

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pyathena import connect
from pyathena.connection import Connection
from pyathena.cursor import Cursor
from pyathena.error import Error as PyAthenaError
from pyathena.model import AthenaQueryExecution
from pyathena.pandas.cursor import PandasCursor
from pyathena.util import RetryConfig

from warehouse.cost import athena_cost_usd, bytes_text
from warehouse.engines.base import (
    QueryResult,
    RunStats,
    ScanTooLarge,
    TransientWarehouseError,
    WarehouseError,
    WriteSession,
    prepare,
)

logger = logging.getLogger(__name__)

# Error codes of AWS API calls that succeed when tried again later.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "InternalServerException",
        "SlowDown",
    }
)


# pyathena wraps API errors in its own; direct client calls raise botocore's.
DRIVER_ERRORS = (PyAthenaError, BotoCoreError, ClientError)
_RUNNING_STATES = (AthenaQueryExecution.STATE_QUEUED, AthenaQueryExecution.STATE_RUNNING)
_FAILED_STATES = (AthenaQueryExecution.STATE_FAILED, AthenaQueryExecution.STATE_CANCELLED)
# How Athena says it cancelled a query at the workgroup's per-query data usage control.
_SCAN_LIMIT_REASON = re.compile(r"bytes scanned limit|data usage|scan(ned)? limit", re.IGNORECASE)


class _DeadlineExceeded(Exception):
    """Raised from the poll callback to stop waiting for a query that ran out of time."""


class _PollWatch:
    """Remembers the last polled execution (for its failure reason) and enforces the deadline."""

    def __init__(self, timeout_s: float) -> None:
        self.deadline = time.monotonic() + timeout_s
        self.last: AthenaQueryExecution | None = None

    def __call__(self, execution: Any) -> None:
        self.last = execution
        if execution.state in _RUNNING_STATES and time.monotonic() > self.deadline:
            raise _DeadlineExceeded


class AthenaEngine:
    name = "athena"
    dialect = "athena"

    def __init__(
        self,
        region: str,
        workgroup: str,
        s3_output: str | None,
        database: str,
        catalog: str,
        usd_per_tb: float,
        result_reuse_minutes: int,
        timeout_s: float,
        *,
        poll_interval_s: float = 0.25,
        # Throttling is retried here briefly; longer waits belong to the task's own retry.
        retry_config: RetryConfig | None = None,
        max_bytes_scanned: int = 0,
    ) -> None:
        self.region = region
        self.workgroup = workgroup
        self.s3_output = s3_output
        self.database = database
        self.catalog = catalog
        self.usd_per_tb = usd_per_tb
        self.result_reuse_minutes = result_reuse_minutes
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.retry_config = retry_config or RetryConfig(attempt=3, max_delay=10)
        # Enforced by Athena itself: the workgroup's BytesScannedCutoffPerQuery must be set and
        # no higher (checked before each query, see _check_cutoff). 0: not checked.
        self.max_bytes_scanned = max_bytes_scanned
        self._connection: Connection[PandasCursor] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> Self:
        from django.conf import settings

        conf = settings.ATHENA
        return cls(
            region=conf["region"],
            workgroup=conf["workgroup"],
            s3_output=conf["s3_output"],
            database=conf["database"],
            catalog=conf["catalog"],
            usd_per_tb=conf["usd_per_tb"],
            result_reuse_minutes=conf["result_reuse_minutes"],
            timeout_s=settings.QUERY_TIME_LIMIT_SECONDS,
            max_bytes_scanned=settings.QUERY_MAX_BYTES_SCANNED,
        )

    def connection(self) -> Connection[PandasCursor]:
        # One boto3 session per engine: building it costs more than a short query's polling.
        with self._lock:
            if self._connection is None:
                self._connection = connect(
                    region_name=self.region,
                    work_group=self.workgroup,
                    s3_staging_dir=self.s3_output,
                    schema_name=self.database,
                    catalog_name=self.catalog,
                    poll_interval=self.poll_interval_s,
                    cursor_class=PandasCursor,
                    retry_config=self.retry_config,
                    config=Config(connect_timeout=10, read_timeout=60),
                )
            return self._connection

    def run(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        _, translated = prepare(sql, params, self.dialect)
        if self.max_bytes_scanned:
            self._check_cutoff(self._workgroup())
        watch = _PollWatch(self.timeout_s)
        started = time.monotonic()
        try:
            cursor = self.connection().cursor(on_poll=watch)
        except DRIVER_ERRORS as err:
            raise map_error(err, None) from err
        try:
            # Always a dict, even empty: the SQL is a pyformat template in which %% means %.
            cursor.execute(
                translated,
                dict(params),
                result_reuse_enable=self.result_reuse_minutes > 0,
                result_reuse_minutes=self.result_reuse_minutes or None,
            )
            frame = cursor.as_pandas()
            bytes_scanned = cursor.data_scanned_in_bytes or 0
            reused = bool(cursor.reused_previous_result)
        except _DeadlineExceeded:
            _cancel(cursor)
            raise WarehouseError(
                f"Athena query {cursor.query_id} ran past the {self.timeout_s:g} s limit "
                "and was cancelled."
            ) from None
        except DRIVER_ERRORS as err:
            raise map_error(err, watch.last) from err
        finally:
            cursor.close()
        return QueryResult(
            frame=frame,
            stats=RunStats(
                engine=self.name,
                translated_sql=translated,
                elapsed_s=time.monotonic() - started,
                rows=len(frame),
                bytes_scanned=bytes_scanned,
                # A reused result is served from an earlier run's output and is not billed again.
                cost_usd=0.0 if reused else athena_cost_usd(bytes_scanned, self.usd_per_tb),
                engine_query_id=cursor.query_id,
            ),
        )

    @property
    def schema(self) -> str:
        return self.database

    @contextmanager
    def write_session(self) -> Iterator[WriteSession]:
        """Statements that change Iceberg tables (Athena commits each one), through the plain
        cursor: no result set to load, and no deadline (an erasure may run long)."""
        try:
            cursor = self.connection().cursor(Cursor)
            try:
                yield WriteSession(cursor, self.dialect, self.schema)
            finally:
                with suppress(*DRIVER_ERRORS):  # not to hide the error that ended it
                    cursor.close()
        except DRIVER_ERRORS as err:
            raise map_error(err, None) from err

    def ping(self) -> None:
        workgroup = self._workgroup()
        state = workgroup.get("State")
        if state != "ENABLED":
            raise WarehouseError(f"Athena workgroup {self.workgroup} is {state or 'missing'}.")
        self._check_cutoff(workgroup)

    def _workgroup(self) -> dict[str, Any]:
        try:
            response = self.connection().client.get_work_group(WorkGroup=self.workgroup)
        except DRIVER_ERRORS as err:
            raise map_error(err, None) from err
        return response.get("WorkGroup") or {}

    def _check_cutoff(self, workgroup: Mapping[str, Any]) -> None:
        """Athena cannot take a scan limit per query; its workgroup's data usage control is
        the cap. Without one no higher than QUERY_MAX_BYTES_SCANNED a query could scan (and
        bill) any amount, so none runs."""
        if not self.max_bytes_scanned:
            return
        cutoff = (workgroup.get("Configuration") or {}).get("BytesScannedCutoffPerQuery")
        if cutoff is None or cutoff > self.max_bytes_scanned:
            found = "has none" if cutoff is None else f"has {bytes_text(cutoff)}"
            raise WarehouseError(
                f"Athena workgroup {self.workgroup} must limit the data one query scans to "
                f"at most {bytes_text(self.max_bytes_scanned)} (QUERY_MAX_BYTES_SCANNED); it "
                f"{found}. Set its per-query data usage control (BytesScannedCutoffPerQuery), "
                "or QUERY_MAX_BYTES_SCANNED=0 to run without a cap."
            )


def _cancel(cursor: PandasCursor) -> None:
    try:
        cursor.cancel()
    except DRIVER_ERRORS:
        # The workgroup's own time limit still stops it; the caller gets the timeout either way.
        logger.warning("Could not cancel Athena query %s", cursor.query_id, exc_info=True)


def map_error(err: BaseException, execution: AthenaQueryExecution | None) -> WarehouseError:
    if execution is not None and execution.state in _FAILED_STATES:
        message = f"Athena query {execution.query_id} {execution.state}: "
        message += execution.state_change_reason or "no reason given"
        if _SCAN_LIMIT_REASON.search(execution.state_change_reason or ""):
            return ScanTooLarge(
                f"{message}. It scanned more than its workgroup's per-query limit "
                "(BytesScannedCutoffPerQuery): choose a shorter date range."
            )
        # Athena flags the failures it expects to succeed on a retry (capacity, internal errors).
        return (TransientWarehouseError if execution.retryable else WarehouseError)(message)
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            cls = TransientWarehouseError if code in TRANSIENT_CODES else WarehouseError
            return cls(f"Athena API error {code}: {cause}")
        if isinstance(cause, BotoConnectionError | HTTPClientError):
            return TransientWarehouseError(f"Athena unreachable: {cause}")
        cause = cause.__cause__
    return WarehouseError(f"Athena error: {err}")
