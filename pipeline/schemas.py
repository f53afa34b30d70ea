"""The event schema registry's rules: what a registered schema is, what may change between
versions, and what changed. Pure functions over parsed JSON documents; no Django, no I/O.

A schema describes the ``payload`` of one event name at one version ``<major>.<minor>``; the
lake's integer ``schema_version`` is the major version. Readers rely on required fields, so a
minor version must keep the required set exactly: adding one breaks old producers, removing or
relaxing one (required -> optional) breaks readers. Anything may change in a new major version.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import total_ordering
from itertools import pairwise
from typing import Any

from core.pii import pii_violations

_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class SchemaError(ValueError):
    """A document that is not a valid registry schema; the message says what is wrong."""


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: Any) -> "Version":
        match = _VERSION.match(text) if isinstance(text, str) else None
        if match is None:
            raise SchemaError(f"x-version must look like 3.1, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def __lt__(self, other: "Version") -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}"


@dataclass(frozen=True)
class EventSchema:
    event: str
    version: Version
    released: date
    changes: str
    description: str
    properties: dict[str, dict[str, Any]]
    required: frozenset[str]
    source: str  # where the document came from, for messages

    @property
    def label(self) -> str:
        return f"{self.event} {self.version}"


@dataclass(frozen=True)
class Finding:
    """One problem with the registry, naming event, version and field."""

    event: str
    version: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.event} {self.version}: {self.message}"


def parse_schema(document: Any, *, source: str) -> EventSchema:
    """Check the registry's own keys and the payload's shape; raise SchemaError if wrong."""
    if not isinstance(document, dict):
        raise SchemaError(f"{source}: a schema must be a JSON object")

    def need(key: str, kind: type, what: str) -> Any:
        value = document.get(key)
        if not isinstance(value, kind):
            raise SchemaError(f"{source}: {key} must be {what}")
        return value

    event = need("x-event", str, "the event name")
    try:
        version = Version.parse(document.get("x-version"))
        released = date.fromisoformat(need("x-released", str, "a date (YYYY-MM-DD)"))
    except ValueError as err:
        raise SchemaError(f"{source}: {err}") from None
    if document.get("type") != "object":
        raise SchemaError(f'{source}: type must be "object" (a payload is a JSON object)')
    properties = need("properties", dict, "an object of field name to field schema")
    required = document.get("required", [])
    if not isinstance(required, list) or not all(isinstance(f, str) for f in required):
        raise SchemaError(f"{source}: required must be a list of field names")
    undeclared = sorted(set(required) - set(properties))
    if undeclared:
        raise SchemaError(f"{source}: required field {undeclared[0]!r} is not in properties")
    return EventSchema(
        event=event,
        version=version,
        released=released,
        changes=str(document.get("x-changes", "")),
        description=str(document.get("description", "")),
        properties=properties,
        required=frozenset(required),
        source=source,
    )


def drift(previous: EventSchema, current: EventSchema) -> list[Finding]:
    """Required fields added, removed or relaxed from ``previous`` to ``current`` without a new
    major version."""
    if current.version.major > previous.version.major:
        return []
    return _required_changes(
        previous, current, f"without a new major version (was {previous.version})"
    )


def in_place_drift(base: EventSchema, current: EventSchema) -> list[Finding]:
    """A released version file edited in place: its required fields may never change."""
    if base.version != current.version:
        return [
            Finding(
                current.event,
                str(base.version),
                None,
                f"the file of {base.version} now says {current.version}; publish a new file",
            )
        ]
    return _required_changes(base, current, "in a released version (publish a new major version)")


def _required_changes(old: EventSchema, new: EventSchema, why: str) -> list[Finding]:
    findings = [
        Finding(new.event, str(new.version), name, f"required field {name!r} added {why}")
        for name in sorted(new.required - old.required)
    ]
    for name in sorted(old.required - new.required):
        change = "relaxed to optional" if name in new.properties else "removed"
        findings.append(
            Finding(new.event, str(new.version), name, f"required field {name!r} {change} {why}")
        )
    return findings


def field_names(properties: dict[str, Any]) -> Iterator[str]:
    """Every field name, nested objects and arrays of objects included."""
    for name, spec in properties.items():
        yield name
        if not isinstance(spec, dict):
            continue
        for nested in (spec, spec.get("items")):
            if isinstance(nested, dict) and isinstance(nested.get("properties"), dict):
                yield from field_names(nested["properties"])


def pii_findings(schema: EventSchema) -> list[Finding]:
    return [
        Finding(
            schema.event,
            str(schema.version),
            key,
            f"field {key!r} looks like personal data and is not on the PII allowlist",
        )
        for key in pii_violations(field_names(schema.properties))
    ]


def by_event(schemas: Iterable[EventSchema]) -> dict[str, list[EventSchema]]:
    """Schemas per event name, oldest version first."""
    grouped: dict[str, list[EventSchema]] = defaultdict(list)
    for schema in schemas:
        grouped[schema.event].append(schema)
    return {event: sorted(versions, key=lambda s: s.version) for event, versions in grouped.items()}


def registry_findings(schemas: Iterable[EventSchema]) -> list[Finding]:
    """Each version against the one before it, plus the PII allowlist on every version."""
    findings: list[Finding] = []
    for versions in by_event(schemas).values():
        for previous, current in pairwise(versions):
            if current.version == previous.version:
                findings.append(
                    Finding(
                        current.event,
                        str(current.version),
                        None,
                        f"registered twice ({previous.source} and {current.source})",
                    )
                )
                continue
            findings += drift(previous, current)
        for schema in versions:
            findings += pii_findings(schema)
    return findings


@dataclass(frozen=True)
class SchemaDiff:
    """What changed from one version to the next, for people."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    now_required: tuple[str, ...]
    now_optional: tuple[str, ...]
    retyped: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.added, self.removed, self.now_required, self.now_optional, self.retyped)
        )


def diff(previous: EventSchema, current: EventSchema) -> SchemaDiff:
    old, new = previous.properties, current.properties
    both = old.keys() & new.keys()
    return SchemaDiff(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        now_required=tuple(sorted((current.required - previous.required) & both)),
        now_optional=tuple(sorted((previous.required - current.required) & both)),
        retyped=tuple(sorted(n for n in both if old[n].get("type") != new[n].get("type"))),
    )


def change_counts(schemas: Iterable[EventSchema], as_of: date, days: int) -> dict[str, int]:
    """Per event, the versions released in the ``days`` days up to ``as_of`` that replaced an
    earlier one (an event's first version is its birth, not a change)."""
    since = as_of - timedelta(days=days)
    return {
        event: sum(1 for s in versions[1:] if since < s.released <= as_of)
        for event, versions in by_event(schemas).items()
    }
