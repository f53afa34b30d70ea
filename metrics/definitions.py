"""Metric definition files: the header, the canonical query, and what the query reads.

Pure functions: text in, a Metric (or the list of what is wrong with the file) out. No Django,
no I/O. A file is a block of ``-- key: value`` header lines followed by one SELECT in the Athena
(Trino) dialect, or by nothing when its header names a template (``*.sql.tmpl`` beside it, see
warehouse.sql_templates) and the values of its holes; see docs/metrics.md for the format and the
SQL contract.
"""

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from pathlib import Path

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import MappingSchema

from metrics.per_unit import PerUnitError, per_unit_tree
from portal.roles import ROLE_ACCESS, Access, Role
from warehouse.lake import contract
from warehouse.sql import SOURCE_DIALECT, QueryRefused, SqlError, check_partition_filters, parse
from warehouse.sql_templates import render_template, template_body, template_holes

AREAS = {
    "marketplace_health": "Marketplace health",
    "growth": "Growth",
    "support": "Support",
    "quality_safety": "Quality & safety",
}
GRAINS = ("day", "week", "month")
# Unit -> display formats that make sense for it.
UNITS = {
    "ratio": ("percent", "multiple"),
    "count": ("number",),
    "minutes": ("duration",),
    "hours": ("duration",),
    "days": ("duration",),
    "eur": ("currency",),
    "usd": ("currency",),
}
# The SQL contract (docs/metrics.md): always-bound parameters and the output columns.
WINDOW_PARAMS = frozenset({"start", "end", "grain"})
SPLIT_PARAM = "split_by"
NO_SPLIT = "none"  # :split_by when the result is not split
UNSPLIT_VALUE = "all"  # dimension_value of an unsplit result
ANY_VALUE = "*"  # a dimension filter parameter bound to this keeps every value
# Roles a restricted metric can be meant for (the header's audience).
AUDIENCES = tuple(r.value for r in Role if r not in (Role.ADMIN, Role.ANALYST, Role.PM))
RATIO_COLUMNS = ("period", "dimension_value", "value", "numerator", "denominator")
PLAIN_COLUMNS = ("period", "dimension_value", "value")

REQUIRED_FIELDS = (
    "slug",
    "title",
    "description",
    "owner",
    "area",
    "unit",
    "format",
    "grains",
    "dimensions",
    "higher_is_better",
    "version",
    "timezone",
    "history",
)
OPTIONAL_FIELDS = (
    "audience",
    "experiment_unit",
    "template",
    "template_params",
    "matures_after_days",
)
TEMPLATE_SUFFIX = ".sql.tmpl"
MAX_MATURITY_DAYS = 365  # longer is more likely a typo than a wait anyone would accept
REPEATABLE_FIELDS = ("history",)
_HEADER_LINE = re.compile(r"^--\s?(?P<key>[a-z_]+):\s*(?P<value>.*?)\s*$")
_CONTINUATION = re.compile(r"^--\s{2,}(?P<value>\S.*?)\s*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HISTORY = re.compile(r"^(?P<version>\d+)\s*:\s*(?P<note>\S.*)$")
# A template's holes are filled into SQL text: only names and whole numbers, never quotes.
_TEMPLATE_VALUE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Metric:
    slug: str
    title: str
    description: str
    owner: str
    area: str
    unit: str
    format: str
    grains: tuple[str, ...]
    dimensions: tuple[str, ...]
    higher_is_better: bool
    version: int
    timezone: str
    audience: str | None  # None: everyone with general access
    # The column holding the experiment unit (identity), for metrics experiments can split
    # per variant (metrics.per_unit); None for metrics of the whole marketplace only.
    experiment_unit: str | None
    is_ratio: bool  # returns numerator and denominator; periods re-aggregate as sum / sum
    sql: str  # the query (the file below its header, or its template filled in), as run
    path: Path
    tables: frozenset[str]
    columns: dict[str, frozenset[str]]  # lineage: table -> columns the query reads
    header_line_count: int  # line n of ``sql`` is line header_line_count + n of ``sql_path``
    history: tuple[tuple[int, str], ...]  # (version, what changed), oldest first
    definition_hash: str  # of the query's syntax tree without comments (see versions.json)
    template: str | None  # the .sql.tmpl file beside ``path`` the query comes from, if any
    template_params: dict[str, str]  # the values of the template's holes
    sql_path: Path  # the file the query is written in: ``path`` or its template
    # Days after a cohort's day before its value is settled (right-censored metrics: repeat
    # rates, chargeback outcomes); None when a period's value is final once the period is over.
    matures_after_days: int | None = None

    @property
    def area_title(self) -> str:
        return AREAS[self.area]

    @property
    def access_classes(self) -> frozenset[Access]:
        return frozenset(contract.table(name).access for name in self.tables)

    def readable_by(self, scope: frozenset[Access]) -> bool:
        """Whether a user with data-access ``scope`` may read every table the query reads."""
        return self.access_classes <= scope


@dataclass(frozen=True)
class BrokenMetric:
    slug: str
    path: Path
    errors: tuple[str, ...]  # "<file>:<line>: <problem>"


def definition_hash(tree: exp.Expression) -> str:
    """Hash of the query itself: comments and layout do not change it, any token of SQL does."""
    bare = tree.copy()
    for node in bare.walk():
        node.comments = None
    return sha256(bare.sql(dialect=SOURCE_DIALECT).encode()).hexdigest()[:16]


class _Problems:
    def __init__(self, display: str) -> None:
        self.display = display
        self.items: list[str] = []

    def add(self, line: int | None, message: str) -> None:
        where = f"{self.display}:{line}" if line else self.display
        self.items.append(f"{where}: {message}")


def parse_definition(
    path: Path, text: str, display: str | None = None, templates: Mapping[str, str] | None = None
) -> Metric | BrokenMetric:
    """The metric a file defines, or everything wrong with it (file and line in every error).

    ``display`` is how errors name the file (default: ``path``); ``templates`` holds the text
    of each template file beside it, by file name.
    """
    display = display or str(path)
    problems = _Problems(display)
    fields, lines, header_count = _read_header(text, problems)
    body = "\n".join(text.splitlines()[header_count:])
    header = _check_header(path, fields, lines, problems)
    source = query = None
    if header is not None:
        source = _query_source(header, lines, body, header_count, templates or {}, problems)
    if source is not None:
        sql, offset, sql_problems = source
        query = _check_query(sql, offset, header, sql_problems)
        if sql_problems is not problems:  # the template's problems, named by its file
            problems.items += sql_problems.items
    if problems.items or source is None or query is None:
        return BrokenMetric(slug=path.stem, path=path, errors=tuple(problems.items))
    tree, tables, columns = query
    template = header["template"]
    return Metric(
        **header,
        sql=sql,
        path=path,
        tables=tables,
        columns=columns,
        header_line_count=offset,
        definition_hash=definition_hash(tree),
        sql_path=path.with_name(template) if template else path,
    )


def _query_source(
    header: dict,
    lines: dict[str, list[int]],
    body: str,
    header_count: int,
    templates: Mapping[str, str],
    problems: _Problems,
) -> tuple[str, int, _Problems] | None:
    """The query, the line offset of its file, and where its problems go (the template's name
    when it comes from one)."""
    name = header["template"]
    if name is None:
        return body, header_count, problems
    line = lines["template"][0]
    if body.strip():
        problems.add(header_count + 1, "a metric with a template has no SQL of its own")
    if name not in templates:
        problems.add(line, f"template: {name} is not a {TEMPLATE_SUFFIX} file beside this one")
        return None
    sql, offset = template_body(templates[name])
    params = header["template_params"]
    holes = template_holes(sql)
    params_line = lines.get("template_params", [line])[0]
    for hole in sorted(holes - set(params)):
        problems.add(params_line, f"template_params: no value for {{{hole}}} of {name}")
    for key in sorted(set(params) - holes):
        problems.add(params_line, f"template_params: {name} has no {{{key}}}")
    if problems.items:
        return None
    where = str(Path(problems.display).with_name(name))
    return render_template(sql, params), offset, _Problems(where)


def _read_header(
    text: str, problems: _Problems
) -> tuple[dict[str, list[str]], dict[str, list[int]], int]:
    """Header fields (each a list of values: repeatable keys may occur more than once), the
    line of each value, and how many lines the header has."""
    fields: dict[str, list[str]] = {}
    lines: dict[str, list[int]] = {}
    count = 0
    last_key = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("--"):
            break
        count = number
        if continued := _CONTINUATION.match(line):
            if last_key is None:
                problems.add(number, "continuation line before any header field")
            else:
                fields[last_key][-1] += " " + continued["value"]
            continue
        match = _HEADER_LINE.match(line)
        if not match:
            if line.strip("- ").strip():
                problems.add(number, "header lines must read '-- key: value'")
            last_key = None
            continue
        key = match["key"]
        if key not in REQUIRED_FIELDS and key not in OPTIONAL_FIELDS:
            problems.add(number, f"unknown header field {key!r}")
            last_key = None
            continue
        if key in fields and key not in REPEATABLE_FIELDS:
            problems.add(number, f"header field {key!r} given twice")
            continue
        fields.setdefault(key, []).append(match["value"])
        lines.setdefault(key, []).append(number)
        last_key = key
    return fields, lines, count


def _check_header(
    path: Path, raw: dict[str, list[str]], lines: dict[str, list[int]], problems: _Problems
) -> dict | None:
    before = len(problems.items)
    missing = [k for k in REQUIRED_FIELDS if k not in raw]
    if missing:
        problems.add(1, f"header is missing {', '.join(missing)}")
        return None
    one = {k: v[0] for k, v in raw.items()}

    def bad(key: str, message: str, entry: int = 0) -> None:
        problems.add(lines[key][entry], f"{key}: {message}")

    for key in ("title", "description", "owner"):
        if not one[key]:
            bad(key, "must not be empty")
    if one["slug"] != path.stem:
        bad("slug", f"{one['slug']!r} does not match the file name {path.name}")
    if not _NAME.match(one["slug"]):
        bad("slug", "use lower-case letters, digits and underscores")
    if one["area"] not in AREAS:
        bad("area", f"{one['area']!r} is not one of {', '.join(AREAS)}")
    if one["unit"] not in UNITS:
        bad("unit", f"{one['unit']!r} is not one of {', '.join(UNITS)}")
    elif one["format"] not in UNITS[one["unit"]]:
        suitable = "/".join(UNITS[one["unit"]])
        bad("format", f"{one['format']!r} does not suit unit {one['unit']} (use {suitable})")
    grains = _list(one["grains"])
    if not grains or set(grains) - set(GRAINS) or len(set(grains)) != len(grains):
        bad("grains", f"a comma-separated list of {', '.join(GRAINS)}")
    grains = tuple(g for g in GRAINS if g in grains)
    dimensions = _list(one["dimensions"])
    if dimensions == ["none"]:
        dimensions = []
    for name in dimensions:
        if not _NAME.match(name) or name in WINDOW_PARAMS | {SPLIT_PARAM, NO_SPLIT}:
            bad("dimensions", f"{name!r} is not a usable dimension name")
    if one["higher_is_better"] not in ("true", "false"):
        bad("higher_is_better", "true or false")
    version = int(one["version"]) if one["version"].isdigit() else 0
    if version < 1:
        bad("version", "a whole number from 1")
    try:
        zoneinfo.ZoneInfo(one["timezone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        bad("timezone", f"{one['timezone']!r} is not an IANA time zone")
    audience = one.get("audience") or None
    template = one.get("template") or None
    template_params = _template_params(one.get("template_params", ""))
    if template is not None and (
        not template.endswith(TEMPLATE_SUFFIX) or Path(template).name != template
    ):
        bad("template", f"{template!r} is not the name of a {TEMPLATE_SUFFIX} file beside this one")
    if template_params is None or (template_params and template is None):
        bad("template_params", "name=value pairs (names, whole numbers) for the template's holes")
    matures = one.get("matures_after_days") or None
    if matures is not None and not (matures.isdigit() and 1 <= int(matures) <= MAX_MATURITY_DAYS):
        bad("matures_after_days", f"a whole number of days from 1 to {MAX_MATURITY_DAYS}")
    experiment_unit = one.get("experiment_unit") or None
    if experiment_unit is not None:
        if not _NAME.match(experiment_unit):
            bad("experiment_unit", f"{experiment_unit!r} is not a column name")
        elif one["unit"] in UNITS and one["unit"] != "ratio":
            bad("experiment_unit", "only ratio metrics (numerator and denominator) split by unit")
    if audience is not None and audience not in AUDIENCES:
        bad("audience", f"{audience!r} is not one of {', '.join(AUDIENCES)} (omit it for all)")
    history: list[tuple[int, str]] = []
    for i, entry in enumerate(raw["history"]):
        match = _HISTORY.match(entry)
        if not match:
            bad("history", f"{entry!r} should read '<version>: <what changed>'", i)
            continue
        history.append((int(match["version"]), match["note"]))
    if version and version not in {v for v, _ in history}:
        bad("history", f"no history note for version {version}")
    if len(problems.items) > before:
        return None
    return {
        "slug": one["slug"],
        "title": one["title"],
        "description": one["description"],
        "owner": one["owner"],
        "area": one["area"],
        "unit": one["unit"],
        "format": one["format"],
        "grains": grains,
        "dimensions": tuple(dimensions),
        "higher_is_better": one["higher_is_better"] == "true",
        "version": version,
        "timezone": one["timezone"],
        "audience": audience,
        "experiment_unit": experiment_unit,
        "is_ratio": one["unit"] == "ratio",
        "history": tuple(sorted(history)),
        "template": template,
        "template_params": template_params,
        "matures_after_days": int(matures) if matures else None,
    }


def _template_params(value: str) -> dict[str, str] | None:
    """``days=7, kind=alert`` as a dict; None if it does not read so."""
    params = {}
    for item in _list(value):
        key, sep, val = (part.strip() for part in item.partition("="))
        if not sep or not _NAME.match(key) or not _TEMPLATE_VALUE.match(val) or key in params:
            return None
        params[key] = val
    return params


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@cache
def _schema() -> MappingSchema:
    # Built once: sqlglot normalises every name of a schema it is given, which is slow.
    relations = [*contract.TABLES.values(), *contract.VIEWS.values()]
    mapping = {t.name: {c.name: c.type for c in t.columns} for t in relations}
    return MappingSchema(mapping, dialect=SOURCE_DIALECT)


def _in_contract(name: str) -> bool:
    try:
        contract.table(name)
    except contract.UnknownTable:
        return False
    return True


def _check_query(
    body: str, offset: int, header: dict, problems: _Problems
) -> tuple[exp.Expression, frozenset[str], dict[str, frozenset[str]]] | None:
    """Parse the query and check it against the lake contract and the SQL contract."""
    try:
        canonical = parse(body)
    except SqlError as err:
        # The line within the query becomes the line within the file.
        message = re.sub(r"\(line \d+, column (\d+)\)", r"(column \1)", str(err))
        problems.add(_error_line(str(err), offset), message)
        return None
    tree = canonical.tree
    unknown = sorted(t for t in canonical.tables if not _in_contract(t))
    for name in unknown:
        problems.add(_table_line(tree, name, offset), f"table {name} is not in the lake contract")
    if unknown:
        return None
    try:
        check_partition_filters(tree, contract.partitioned_tables())
    except QueryRefused as err:
        table = re.search(r"partitioned table (\w+)", str(err))
        problems.add(_table_line(tree, table[1] if table else "", offset), str(err))
    try:
        qualified = qualify(tree.copy(), schema=_schema(), dialect=SOURCE_DIALECT)
    except SqlglotError as err:
        message = re.sub(r"\.? Line: \d+, Col: (\d+)\.?", r" (column \1)", str(err))
        problems.add(_error_line(str(err), offset), message)
        return None
    columns = _lineage(qualified)

    expected_params = WINDOW_PARAMS | (
        {SPLIT_PARAM, *header["dimensions"]} if header["dimensions"] else set()
    )
    for name in sorted(expected_params - canonical.placeholders):
        problems.add(offset + 1, f"the query does not use the parameter :{name}")
    for name in sorted(canonical.placeholders - expected_params):
        problems.add(
            _placeholder_line(body, name, offset),
            f"unexpected parameter :{name} (allowed: {', '.join(sorted(expected_params))})",
        )
    wanted = RATIO_COLUMNS if header["is_ratio"] else PLAIN_COLUMNS
    outputs = tuple(tree.named_selects)
    if outputs != wanted:
        problems.add(
            offset + 1,
            f"the query returns ({', '.join(outputs)}); a {header['unit']} metric must return "
            f"({', '.join(wanted)})",
        )
    _check_audience(header["audience"], canonical.tables, problems, offset)
    if header["experiment_unit"]:
        _check_per_unit(tree, header["experiment_unit"], problems, offset)
    return tree, canonical.tables, columns


def _check_per_unit(tree: exp.Expression, unit: str, problems: _Problems, offset: int) -> None:
    """The query split by unit must still resolve: the unit column is read where the final
    SELECT reads its rows."""
    try:
        qualify(per_unit_tree(tree, unit), schema=_schema(), dialect=SOURCE_DIALECT)
    except PerUnitError as err:
        problems.add(offset + 1, f"experiment_unit: {err}")
    except SqlglotError as err:
        problems.add(
            offset + 1, f"experiment_unit: {unit} cannot be read by the final SELECT ({err})"
        )


def _lineage(qualified: exp.Expression) -> dict[str, frozenset[str]]:
    read: dict[str, set[str]] = {}
    for scope in traverse_scope(qualified):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                read.setdefault(source.name.lower(), set()).add(column.name.lower())
    return {table: frozenset(cols) for table, cols in sorted(read.items())}


def _check_audience(
    audience: str | None, tables: frozenset[str], problems: _Problems, offset: int
) -> None:
    """The header's audience is the role the metric is for: that role must be able to read every
    table the query reads, and a metric reading only general data has no audience."""
    needed = {contract.table(t).access for t in tables}
    if needed <= {Access.GENERAL}:
        if audience is not None:
            problems.add(
                offset + 1, f"audience {audience} is set but every table read has general access"
            )
        return
    restricted = ", ".join(
        f"{t} ({contract.table(t).access.value})"
        for t in sorted(tables)
        if contract.table(t).access is not Access.GENERAL
    )
    if audience is None:
        problems.add(offset + 1, f"the query reads restricted data, {restricted}: set an audience")
        return
    unreadable = needed - ROLE_ACCESS[Role(audience)]
    if unreadable:
        problems.add(
            offset + 1,
            f"the {audience} role cannot read {restricted}: read its views instead, "
            f"or change the audience",
        )


_LINE_IN_MESSAGE = re.compile(r"[Ll]ine:? (\d+)")


def _error_line(message: str, offset: int) -> int:
    match = _LINE_IN_MESSAGE.search(message)
    return offset + (int(match[1]) if match else 1)


def _placeholder_line(body: str, name: str, offset: int) -> int:
    # sqlglot keeps no position for placeholders: find the first line using it.
    used = re.compile(rf":{name}\b")
    lines = body.splitlines()
    return offset + next((i for i, line in enumerate(lines, 1) if used.search(line)), 1)


def _table_line(tree: exp.Expression, name: str, offset: int) -> int:
    """The file line of the first read of table ``name`` (its identifier keeps the position)."""
    for table in tree.find_all(exp.Table):
        if table.name.lower() == name.lower():
            return offset + table.this.meta.get("line", 1)
    return offset + 1
