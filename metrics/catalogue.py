"""The metrics catalogue: every definition file under settings.METRICS_DIR, parsed once per change.

A file that cannot be used becomes a BrokenMetric (with file and line of each problem) rather
than an exception, so the portal starts and shows it as broken.
"""

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from metrics.definitions import AREAS, TEMPLATE_SUFFIX, BrokenMetric, Metric, parse_definition

__all__ = ["BrokenMetric", "Catalogue", "Metric", "UnknownMetric", "load_catalogue"]


class UnknownMetric(KeyError):
    pass


@dataclass(frozen=True)
class Catalogue:
    metrics: dict[str, Metric]  # by area (in AREAS order), then title
    broken: dict[str, BrokenMetric]  # by slug

    def get(self, slug: str) -> Metric:
        try:
            return self.metrics[slug]
        except KeyError:
            raise UnknownMetric(slug) from None


_cache: dict[Path, tuple[tuple, Catalogue]] = {}
_lock = threading.Lock()


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """The catalogue of ``directory`` (default settings.METRICS_DIR).

    Cheap to call on every request: files are parsed again only when one was added, removed or
    changed (by name, size and modification time), templates included.
    """
    directory = Path(directory or settings.METRICS_DIR).resolve()
    # os.scandir, not Path.glob: this runs on every request, and Path objects cost more than
    # the stat calls.
    with os.scandir(directory) as entries:
        found = [e for e in entries if e.name.endswith((".sql", TEMPLATE_SUFFIX)) and e.is_file()]
    signature = tuple(sorted((e.name, (s := e.stat()).st_mtime_ns, s.st_size) for e in found))
    with _lock:
        cached = _cache.get(directory)
    if cached is not None and cached[0] == signature:
        return cached[1]
    catalogue = _parse_all(directory, [name for name, _, _ in signature])
    with _lock:
        _cache[directory] = (signature, catalogue)
    return catalogue


def display_path(path: Path) -> str:
    """How errors name a file: relative to the project when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def _parse_all(directory: Path, names: list[str]) -> Catalogue:
    metrics: list[Metric] = []
    broken: dict[str, BrokenMetric] = {}
    templates = {}
    for name in names:
        if name.endswith(TEMPLATE_SUFFIX):
            # An unreadable template is reported by the metrics using it, as not found.
            with contextlib.suppress(OSError, UnicodeDecodeError):
                templates[name] = (directory / name).read_text(encoding="utf-8")
    for path in (directory / name for name in names if name.endswith(".sql")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            broken[path.stem] = BrokenMetric(
                slug=path.stem, path=path, errors=(f"{display_path(path)}: cannot read: {err}",)
            )
            continue
        parsed = parse_definition(path, text, display=display_path(path), templates=templates)
        if isinstance(parsed, Metric):
            metrics.append(parsed)
        else:
            broken[parsed.slug] = parsed
    area_rank = {area: i for i, area in enumerate(AREAS)}
    metrics.sort(key=lambda m: (area_rank[m.area], m.title.lower(), m.slug))
    return Catalogue(metrics={m.slug: m for m in metrics}, broken=broken)
