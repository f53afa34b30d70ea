"""`metrics validate`: every definition file checked, and each version's SQL pinned by a hash.

analytics/metrics/versions.json maps slug -> version -> the definition hash of that version's
query. A query whose hash differs from the one recorded for its version was changed without a
new version: the numbers it gives would silently differ from what the same version gave before.
"""

import json
from pathlib import Path

from sqlglot.errors import SqlglotError

from core.engines import ENGINE_NAMES
from metrics.catalogue import Catalogue, display_path
from metrics.definitions import Metric
from warehouse.lake.storage import atomic_path
from warehouse.sql import parse, translate

VERSIONS_FILE = "versions.json"
Versions = dict[str, dict[str, str]]


def versions_path(directory: Path) -> Path:
    return Path(directory) / VERSIONS_FILE


def read_versions(directory: Path) -> Versions:
    path = versions_path(directory)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{display_path(path)}: expected an object of slug -> version -> hash")
    return data


def validate(catalogue: Catalogue, versions: Versions) -> list[str]:
    """Every problem of the catalogue, one line each, naming file and line."""
    problems = [error for broken in catalogue.broken.values() for error in broken.errors]
    for metric in catalogue.metrics.values():
        problems += _translation_problems(metric)
        problems += _version_problems(metric, versions)
    return problems


def _where(metric: Metric, line: int) -> str:
    return f"{display_path(metric.path)}:{line}"


def _translation_problems(metric: Metric) -> list[str]:
    canonical = parse(metric.sql)
    problems = []
    for engine in ENGINE_NAMES:  # each engine's dialect has the engine's name
        try:
            translate(canonical, engine)
        except (SqlglotError, ValueError) as err:  # sqlglot cannot write it for the engine
            problems.append(
                f"{_where(metric, metric.header_line_count + 1)}: "
                f"cannot translate to {engine}: {err}"
            )
    return problems


def _version_line(metric: Metric) -> int:
    lines = metric.path.read_text(encoding="utf-8").splitlines()
    return next((i for i, line in enumerate(lines, 1) if line.startswith("-- version:")), 1)


def _version_problems(metric: Metric, versions: Versions) -> list[str]:
    recorded = versions.get(metric.slug, {})
    where = f"{display_path(metric.path)}:{_version_line(metric)}"
    latest = max((int(v) for v in recorded), default=0)
    if metric.version < latest:
        return [f"{where}: version {metric.version} is below the recorded version {latest}"]
    stored = recorded.get(str(metric.version))
    if stored == metric.definition_hash:
        return []
    if stored is not None:
        return [
            f"{where}: the SQL of {metric.slug} changed but its version is still "
            f"{metric.version}: raise the version and add a history line saying what changed"
        ]
    return [
        f"{where}: version {metric.version} of {metric.slug} is not recorded: "
        f"run `manage.py metrics validate --record`"
    ]


def record_versions(catalogue: Catalogue, directory: Path) -> list[str]:
    """Record the hash of every metric version not recorded yet (never overwriting one);
    returns the slugs recorded. Written atomically."""
    versions = read_versions(directory)
    recorded = []
    for metric in catalogue.metrics.values():
        known = versions.setdefault(metric.slug, {})
        latest = max((int(v) for v in known), default=0)
        if str(metric.version) not in known and metric.version > latest:
            known[str(metric.version)] = metric.definition_hash
            recorded.append(f"{metric.slug} v{metric.version}")
    if recorded:
        ordered = {
            slug: dict(sorted(v.items(), key=lambda kv: int(kv[0])))
            for slug, v in sorted(versions.items())
        }
        with atomic_path(versions_path(directory)) as tmp:
            tmp.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
    return recorded
