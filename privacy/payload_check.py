"""The lake payload check, allowlist only: every top-level key of raw_events.payload against
its event version's registered schema and the PII allowlist, and a bounded sample of the values
that could be personal data against core.pii's value detectors.

A violation counts; it never holds a value. The keys are counted by a recorded query run (cached
like any). The values cannot be: the warehouse masks e-mail addresses and phone numbers in every
result that reads a payload before it caches it (warehouse.personal_data), which would hide
exactly what the detectors look for. So the value sample is read from the engine directly, kept
in memory, counted and dropped: never cached, logged or stored.
"""

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from core.masking import mask_payload
from core.pii import pii_violations, value_kinds
from pipeline.schemas import EventSchema
from pipeline.selectors import schema_registry
from portal.roles import Access
from warehouse import services as warehouse
from warehouse.engines.base import WarehouseError
from warehouse.engines.registry import get_engine
from warehouse.sql import SqlError

logger = logging.getLogger(__name__)

UNREGISTERED_KEY, PII_KEY, PII_VALUE = "unregistered_key", "pii_key", "pii_value"
SAMPLE_PER_KEY = 50  # candidate values read per event name and key: bounded on any lake
FRAGMENT_CHARS = 256  # of payload text after a key: its value, or the start of a long one

# Trino's UNNEST(map_keys(...)) lists a JSON object's keys (PostgreSQL: jsonb_object_keys, see
# warehouse.sql); try() makes a payload that is not a JSON object have no keys rather than fail.
PAYLOAD_KEYS_SQL = """
SELECT event_name, schema_version, key, count(*) AS events
FROM raw_events
CROSS JOIN UNNEST(map_keys(try(CAST(json_parse(payload) AS map(varchar, json))))) AS keys (key)
WHERE event_dt BETWEEN :start AND :end
GROUP BY event_name, schema_version, key
"""

# A key's value is the payload text after "<key>": (strpos and substr run on every engine; a
# JSON path built from the key has no portable form). Only values that could be personal data
# are sampled: a string with an @ or seven digits in a row (spaces, dots, dashes, slashes and
# brackets between them allowed), or a number of 13 digits or more. The same test on the whole
# payload first spares most events the unnesting (3 times faster on the demo lake). event_id
# orders the sample: spread over clients and days, and the same on every run.
PAYLOAD_VALUES_SQL = r"""
WITH pairs AS (
  SELECT event_id, event_name, key, payload, strpos(payload, '"' || key || '":') AS key_at
  FROM raw_events
  CROSS JOIN UNNEST(map_keys(try(CAST(json_parse(payload) AS map(varchar, json))))) AS keys (key)
  WHERE event_dt BETWEEN :start AND :end
    AND regexp_like(payload, '@|[0-9]([ ()./-]{0,2}[0-9]){6}')
),
fragments AS (
  SELECT event_id, event_name, key,
         substr(payload, key_at + length(key) + 3, :fragment_chars) AS fragment
  FROM pairs
  WHERE key_at > 0
),
candidates AS (
  SELECT event_name, key, fragment,
         row_number() OVER (PARTITION BY event_name, key ORDER BY event_id) AS pick
  FROM fragments
  WHERE regexp_like(fragment, '^\s*("[^"]*(@|[0-9]([ ()./-]{0,2}[0-9]){6})|[0-9]{13})')
)
SELECT event_name, key, fragment
FROM candidates
WHERE pick <= :per_key
"""


class ValueSampleFailed(Exception):
    """The engine could not read the value sample (the message says why)."""


@dataclass(frozen=True)
class PayloadCheck:
    run_id: int  # the keys' query run
    violations: list[dict]


def payload_check_run(*, start: date, end: date) -> PayloadCheck:
    """Check the raw events of ``start`` to ``end``: keys by a recorded query run (the privacy
    team's, like its page), values by a sample read from the same engine."""
    window = {"start": start, "end": end}
    keys = warehouse.query_run_sync(
        sql=PAYLOAD_KEYS_SQL,
        params=window,
        scope=frozenset({Access.GENERAL}),
        label="privacy: payload keys",
    )
    registered = registered_keys(schema_registry().schemas)
    values = _value_sample(window)
    return PayloadCheck(keys.run_id, payload_violations(keys.frame, values, registered))


def _value_sample(window: dict[str, date]) -> pd.DataFrame:
    engine = get_engine()  # the keys' engine: query_run_sync's default too
    params = {**window, "per_key": SAMPLE_PER_KEY, "fragment_chars": FRAGMENT_CHARS}
    try:
        result = engine.run(PAYLOAD_VALUES_SQL, params)
    except (WarehouseError, SqlError) as err:
        raise ValueSampleFailed(str(err)) from None
    stats = result.stats
    # Counts only: the sample's cost, which no query run records.
    logger.info(
        "payload value sample on %s: %s rows, %s bytes scanned, %s USD",
        engine.name,
        stats.rows,
        stats.bytes_scanned,
        stats.cost_usd,
    )
    return result.frame


def registered_keys(schemas: Iterable[EventSchema]) -> dict[tuple[str, int], frozenset[str]]:
    """The top-level payload keys of each (event name, major version): the lake's
    schema_version is the major, and a minor version may add optional keys."""
    keys: dict[tuple[str, int], set[str]] = defaultdict(set)
    for schema in schemas:
        keys[(schema.event, schema.version.major)] |= schema.properties.keys()
    return {version: frozenset(names) for version, names in keys.items()}


def fragment_value(fragment: str) -> str:
    """The value a fragment starts with, as text: a JSON string or number, or the start of a
    string longer than the fragment."""
    text = fragment.lstrip()
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return text[1:]  # cut short: all of it is the string's
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class _Tally:
    """What one (event name, key) showed: events, those off their version's schema, and the
    detectors' hits on its sampled values."""

    events: int = 0
    unregistered_events: int = 0
    unregistered_versions: list[int | None] = field(default_factory=list)
    values_sampled: int = 0
    value_hits: Counter = field(default_factory=Counter)

    def kinds(self, pii_key: bool) -> list[str]:
        return [
            kind
            for kind, hit in (
                (UNREGISTERED_KEY, self.unregistered_events > 0),
                (PII_KEY, pii_key),
                (PII_VALUE, bool(self.value_hits)),
            )
            if hit
        ]


def payload_violations(
    keys: pd.DataFrame, values: pd.DataFrame, registered: dict[tuple[str, int], frozenset[str]]
) -> list[dict]:
    """Per event name and key with something wrong, sorted by event name and key:
    ``{event_name, key, events, kinds, unregistered_events, unregistered_versions,
    values_sampled, value_hits}``. ``kinds`` lists unregistered_key, pii_key and pii_value;
    ``value_hits`` maps a detector to how many sampled values it found (no value is kept)."""
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for row in keys.itertuples(index=False):
        tally = tallies[(row.event_name, row.key)]
        tally.events += int(row.events)
        version = None if pd.isna(row.schema_version) else int(row.schema_version)
        if row.key not in registered.get((row.event_name, version), ()):
            tally.unregistered_events += int(row.events)
            tally.unregistered_versions.append(version)
    for row in values.itertuples(index=False):
        # Named as the warehouse names them in the keys' result (warehouse.personal_data): a
        # key that is itself an e-mail address is "***" there, and must be here too.
        tally = tallies[(mask_payload(row.event_name), mask_payload(row.key))]
        tally.values_sampled += 1
        tally.value_hits.update(value_kinds(fragment_value(row.fragment)))

    flagged = set(pii_violations(key for _, key in tallies))
    violations = []
    # Sorted here, not in SQL: engines order text by different collations.
    for (event_name, key), tally in sorted(tallies.items()):
        kinds = tally.kinds(key in flagged)
        if not kinds:
            continue
        violations.append(
            {
                "event_name": event_name,
                "key": key,
                "events": tally.events,
                "kinds": kinds,
                "unregistered_events": tally.unregistered_events,
                # An event without a version (null) first.
                "unregistered_versions": sorted(
                    tally.unregistered_versions, key=lambda v: -1 if v is None else v
                ),
                "values_sampled": tally.values_sampled,
                "value_hits": dict(sorted(tally.value_hits.items())),
            }
        )
    return violations
