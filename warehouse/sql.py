"""Canonical SQL: parsed once in the Athena (Trino) dialect, analysed, and translated per engine.

Pure functions over sqlglot trees; no Django and no I/O. Parameters are named placeholders
(``:start``) that each engine binds through its driver; values never enter the SQL text. The
statements that change remote warehouses (warehouse.lake.*_sql) are rendered here too.
"""

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from hashlib import sha256

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.scope import traverse_scope

SOURCE_DIALECT = "trino"
BINDABLE_TYPES = (str, int, float, bool, date, datetime, type(None))


class SqlError(ValueError):
    """Canonical SQL that cannot be run: unparseable, not a query, or wrongly parameterised."""


class QueryRefused(SqlError):
    """Valid SQL that a rule forbids (for example a partitioned table read without a filter)."""


@dataclass(frozen=True)
class CanonicalSql:
    text: str
    tree: exp.Expression
    version_hash: str
    tables: frozenset[str]
    placeholders: frozenset[str]


@lru_cache(maxsize=512)
def parse(sql: str) -> CanonicalSql:
    try:
        statements = sqlglot.parse(sql, read=SOURCE_DIALECT)
    except ParseError as err:
        detail = err.errors[0] if err.errors else {}
        where = f" (line {detail['line']}, column {detail['col']})" if "line" in detail else ""
        raise SqlError(f"SQL does not parse{where}: {detail.get('description', err)}") from None
    except SqlglotError as err:  # the tokenizer's: an unterminated string or quoted name
        raise SqlError(f"SQL does not parse: {err}") from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise SqlError(f"Expected exactly one statement, got {len(statements)}.")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise SqlError(f"Only SELECT queries may run; got {tree.key.upper()}.")
    return CanonicalSql(
        text=sql,
        tree=tree,
        version_hash=sha256(tree.sql(dialect=SOURCE_DIALECT).encode()).hexdigest()[:16],
        tables=frozenset(tables_read(tree)),
        placeholders=frozenset(p.name for p in tree.find_all(exp.Placeholder)),
    )


def tables_read(tree: exp.Expression) -> set[str]:
    """Names of the physical tables a query reads (CTE names excluded), lower-cased."""
    names: set[str] = set()
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                names.add(source.name.lower())
    return names


@dataclass(frozen=True)
class TableRead:
    """One read of a physical table by one SELECT: what it may cost.

    ``lower``/``upper`` bound the partition column (None: unbounded, or not partitioned) as
    expressions of literals and parameters; ``columns`` are the names the SELECT refers to
    (qualified by the table's alias or unqualified), ``star`` whether it reads every column.
    """

    table: str
    partition_column: str | None
    lower: exp.Expression | None
    upper: exp.Expression | None
    columns: frozenset[str]
    star: bool


def table_reads(tree: exp.Expression, partitioned: Mapping[str, str]) -> list[TableRead]:
    """Every read of a physical table, per SELECT that reads it (a table read twice counts
    twice), with the partition range and the columns of each."""
    reads = []
    for scope in traverse_scope(tree):
        # Only a SELECT reads tables; other scopes (a correlated UNNEST, say) merely see the
        # enclosing SELECT's sources, whose filter is checked with that SELECT.
        if not isinstance(scope.expression, exp.Select):
            continue
        star = any(isinstance(e, exp.Star) for e in scope.expression.expressions)
        # JOIN ... USING (c) names c as an identifier, not a column: each side reads it.
        using = {
            i.name.lower()
            for join in scope.expression.args.get("joins") or []
            for i in join.args.get("using") or []
        }
        for alias, source in scope.sources.items():
            if not isinstance(source, exp.Table):
                continue
            name = source.name.lower()
            column = partitioned.get(name)
            lower, upper = _bounds(scope.expression, alias, column) if column else (None, None)
            mine = [c for c in scope.columns if c.table in ("", alias)]
            reads.append(
                TableRead(
                    table=name,
                    partition_column=column,
                    lower=lower,
                    upper=upper,
                    columns=frozenset(c.name.lower() for c in mine if c.name != "*") | using,
                    star=star or any(c.name == "*" for c in mine),
                )
            )
    return reads


def check_partition_filters(tree: exp.Expression, partitioned: Mapping[str, str]) -> None:
    """Refuse a read of a partitioned table whose scope does not bound its partition column
    from below and from above.

    The cost rule of the plan: a full scan of a partitioned table is never what anyone wants to
    pay for, and a filter that merely names the column (``event_dt IS NOT NULL``) or bounds one
    side (``event_dt >= :start``) still reads every partition on that side. A bound is a
    comparison of the column itself (qualified by the table's alias, or unqualified) with a
    value known before the scan: a literal, a bound parameter, or an expression of those such
    as ``date_add('day', -7, :start)`` or ``current_date``. ``=``, ``IN (...)`` and ``BETWEEN``
    bound both sides; ``>=``/``>`` the lower, ``<=``/``<`` the upper. The bounds must hold for
    every row: they count in the WHERE clause or JOIN condition of the scope that reads the
    table, joined by AND (or present in every branch of an OR).
    """
    for read in table_reads(tree, partitioned):
        lower, upper = read.lower is not None, read.upper is not None
        if read.partition_column is None or (lower and upper):
            continue
        missing = "an upper bound" if lower else "a lower bound" if upper else "a filter"
        column = read.partition_column
        raise QueryRefused(
            f"Query reads partitioned table {read.table} without {missing} on {column}; "
            f"bound it on both sides, e.g. {column} BETWEEN :start AND :end."
        )


_Bounds = tuple[exp.Expression | None, exp.Expression | None]


def _bounds(select: exp.Expression, alias: str, column: str) -> _Bounds:
    """The lowest and highest value of ``column`` the SELECT's WHERE and JOIN conditions let
    through, as expressions (None where a side is unbounded)."""
    where = select.args.get("where")
    conditions = [where.this if where else None]
    conditions += [join.args.get("on") for join in select.args.get("joins") or []]
    bounds: _Bounds = (None, None)
    for condition in filter(None, conditions):
        bounds = _both(bounds, _condition_bounds(condition, alias, column))
    return bounds


def _both(a: _Bounds, b: _Bounds) -> _Bounds:
    """Both conditions hold: the tighter bound of each side."""
    return _combine(a[0], b[0], exp.Greatest, either=True), _combine(
        a[1], b[1], exp.Least, either=True
    )


def _either(a: _Bounds, b: _Bounds) -> _Bounds:
    """One of the conditions holds: the looser bound of each side, if both have one."""
    return _combine(a[0], b[0], exp.Least, either=False), _combine(
        a[1], b[1], exp.Greatest, either=False
    )


def _combine(a, b, func: type[exp.Func], *, either: bool) -> exp.Expression | None:
    if a is None or b is None:
        return (b if a is None else a) if either else None
    # Copies: a node wrapped in a new parent would be re-parented inside the cached query tree.
    return func(this=a.copy(), expressions=[b.copy()])


# Comparisons with the column on the left, and the same with the operands swapped.
_LOWER, _UPPER = (exp.GTE, exp.GT), (exp.LTE, exp.LT)
_FLIPPED = {exp.GTE: exp.LTE, exp.GT: exp.LT, exp.LTE: exp.GTE, exp.LT: exp.GT, exp.EQ: exp.EQ}


def _condition_bounds(node: exp.Expression, alias: str, column: str) -> _Bounds:
    # A strict bound (>, <) counts as inclusive: the range may be a day wider, never narrower.
    node = node.unnest()
    if isinstance(node, exp.And):
        return _both(
            _condition_bounds(node.this, alias, column),
            _condition_bounds(node.expression, alias, column),
        )
    if isinstance(node, exp.Or):
        return _either(
            _condition_bounds(node.this, alias, column),
            _condition_bounds(node.expression, alias, column),
        )
    if isinstance(node, exp.Between):
        if not _is_column(node.this, alias, column):
            return None, None
        low, high = node.args["low"], node.args["high"]
        return (low if _is_constant(low) else None), (high if _is_constant(high) else None)
    if isinstance(node, exp.In):
        values = node.expressions
        if (
            _is_column(node.this, alias, column)
            and not node.args.get("query")
            and values
            and all(_is_constant(v) for v in values)
        ):
            if len(values) == 1:
                return values[0], values[0]
            lowest = exp.Least(this=values[0].copy(), expressions=[v.copy() for v in values[1:]])
            highest = exp.Greatest(
                this=values[0].copy(), expressions=[v.copy() for v in values[1:]]
            )
            return lowest, highest
        return None, None
    kind = type(node)
    if kind not in _FLIPPED:
        return None, None
    if _is_column(node.this, alias, column) and _is_constant(node.expression):
        value = node.expression
    elif _is_column(node.expression, alias, column) and _is_constant(node.this):
        kind, value = _FLIPPED[kind], node.this
    else:
        return None, None
    lower = value if kind is exp.EQ or kind in _LOWER else None
    upper = value if kind is exp.EQ or kind in _UPPER else None
    return lower, upper


def _is_column(node: exp.Expression, alias: str, column: str) -> bool:
    node = node.unnest()
    return (
        isinstance(node, exp.Column) and node.name.lower() == column and node.table in ("", alias)
    )


def _is_constant(node: exp.Expression) -> bool:
    """A value known before any row is read: no column, no subquery."""
    return not any(isinstance(n, exp.Column | exp.Query | exp.Subquery) for n in node.walk())


def bounds_query(reads: list[TableRead]) -> CanonicalSql | None:
    """One canonical SELECT of the partition range of each partitioned read, as dates: columns
    lower_<i>, upper_<i> in the order of ``reads``. None when no read is partitioned."""
    columns = []
    for i, read in enumerate(reads):
        if read.partition_column is None:
            continue
        for side, value in (("lower", read.lower), ("upper", read.upper)):
            date_value = exp.cast(value.copy(), exp.DataType.build("date"))
            columns.append(exp.alias_(date_value, f"{side}_{i}"))
    if not columns:
        return None
    return parse(exp.select(*columns).sql(dialect=SOURCE_DIALECT))


def params_used(sql: str, params: Mapping[str, object]) -> dict[str, object]:
    """The subset of ``params`` that ``sql`` has placeholders for (one set of values serving
    several queries)."""
    return {k: v for k, v in params.items() if k in parse(sql).placeholders}


def check_params(canonical: CanonicalSql, params: Mapping[str, object]) -> None:
    missing = canonical.placeholders - params.keys()
    if missing:
        raise SqlError(f"Missing value for parameter :{sorted(missing)[0]}.")
    extra = params.keys() - canonical.placeholders
    if extra:
        raise SqlError(f"Unknown parameter {sorted(extra)[0]!r}: the SQL has no such placeholder.")
    for name, value in params.items():
        if not isinstance(value, BINDABLE_TYPES):
            raise SqlError(f"Parameter {name!r} has unsupported type {type(value).__name__}.")


def _count_if_native(node: exp.Expression) -> exp.Expression:
    # Trino's count_if is a bigint and 0 over no rows. DuckDB's own COUNT_IF is the fastest form
    # there (about 3 times COUNT(CASE ...)) but a HUGEINT and NULL over no rows: the cast and
    # coalesce, applied once per group, keep Trino's answer at the native speed. Under OVER or
    # FILTER the aggregate cannot be wrapped: COUNT(CASE ...) is exact there.
    if isinstance(node, exp.CountIf) and isinstance(node.parent, exp.Window | exp.Filter):
        return _count_if_as_count(node)
    if isinstance(node, exp.CountIf):
        counted = exp.Cast(this=exp.CountIf(this=node.this), to=exp.DataType.build("BIGINT"))
        return exp.Coalesce(this=counted, expressions=[exp.Literal.number(0)])
    return node


def _count_if_as_filter(node: exp.Expression) -> exp.Expression:
    # PostgreSQL has no count_if; COUNT(*) FILTER (WHERE ...) is its native form (a bigint, 0
    # over no rows, as Trino's), but for one that has a FILTER of its own already.
    if isinstance(node, exp.CountIf) and isinstance(node.parent, exp.Filter):
        return _count_if_as_count(node)
    if isinstance(node, exp.CountIf):
        return exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=node.this))
    return node


def _count_if_as_count(node: exp.Expression) -> exp.Expression:
    # Redshift has neither count_if nor FILTER.
    if isinstance(node, exp.CountIf):
        return exp.Count(this=exp.If(this=node.this, true=exp.Literal.number(1)))
    return node


# Each engine's fastest exact form of Trino's count_if.
COUNT_IF_FORMS = {
    "duckdb": _count_if_native,
    "postgres": _count_if_as_filter,
    "redshift": _count_if_as_count,
}


def _postgres_compatible(node: exp.Expression) -> exp.Expression:
    # PostgreSQL has no approximate distinct; an exact count is the faithful substitute.
    if isinstance(node, exp.ApproxDistinct):
        return exp.Count(this=exp.Distinct(expressions=[node.this]))
    return node


def _redshift_modulo(node: exp.Expression) -> exp.Expression:
    # redshift-connector %-formats the statement and rejects a bare % outside quotes.
    if isinstance(node, exp.Mod):
        return exp.Anonymous(this="MOD", expressions=[node.this, node.expression])
    return node


def _postgres_types(node: exp.Expression) -> exp.Expression:
    # json_extract_path_text takes json; the lake keeps JSON documents in varchar columns.
    if isinstance(node, exp.JSONExtractScalar):
        node.set("this", exp.cast(node.this, "json"))
        return node
    # PostgreSQL rounds to n places only numerics; round(double, n) does not exist.
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
        node.set("this", exp.cast(node.this, "numeric"))
        return node
    # date_trunc(unit, date) resolves to the timestamptz overload, which truncates in the
    # session time zone; truncating a plain timestamp matches DuckDB (and Trino's values).
    if isinstance(node, exp.TimestampTrunc):
        node.set("this", exp.cast(node.this, "timestamp"))
        return node
    # sqlglot writes date_add with a non-literal amount as INTERVAL '<name> DAY', losing it.
    if isinstance(node, exp.DateAdd) and not node.expression.is_number:
        unit = exp.var(node.unit or "DAY")
        step = exp.Interval(this=exp.Literal.string("1"), unit=unit)
        return exp.Add(this=node.this, expression=exp.Mul(this=node.expression, expression=step))
    return node


def _json_object_keys(node: exp.Expression) -> tuple[exp.Expression, bool] | None:
    """For UNNEST(map_keys(CAST(<json> AS map(varchar, json)))), Trino's way to list the keys of
    a JSON object, the JSON value and whether try() guards the cast; None for anything else."""
    if not isinstance(node, exp.Unnest) or len(node.expressions) != 1:
        return None
    keys = node.expressions[0].unnest()  # unnest(): without enclosing parentheses
    if not isinstance(keys, exp.MapKeys):
        return None
    cast, guarded = keys.this.unnest(), False
    if isinstance(cast, exp.Try):
        cast, guarded = cast.this.unnest(), True
    if not (isinstance(cast, exp.Cast) and cast.to.is_type(exp.DataType.Type.MAP)):
        return None
    document = cast.this.unnest()
    if isinstance(document, exp.Try):
        document, guarded = document.this.unnest(), True
    if isinstance(document, exp.ParseJSON):
        document = document.this
    return document, guarded


def _postgres_json_keys(node: exp.Expression) -> exp.Expression:
    # sqlglot writes map types and map_keys as they are, which PostgreSQL has neither of; its
    # jsonb_object_keys already returns one row per key (a function in FROM sees the tables
    # before it, like a correlated UNNEST).
    found = _json_object_keys(node)
    if found is None:
        return node
    document = exp.cast(found[0].copy(), "jsonb")
    if found[1]:
        # try(): a document that is not an object has no keys instead of failing the query.
        # (Text that is not JSON at all still fails: PostgreSQL 15 has no safe parse.)
        kind = exp.Anonymous(this="jsonb_typeof", expressions=[document.copy()])
        document = exp.Case().when(
            exp.EQ(this=kind, expression=exp.Literal.string("object")), document
        )
    keys = exp.Anonymous(this="jsonb_object_keys", expressions=[document])
    return exp.Table(this=keys, alias=node.args.get("alias"))


def _redshift_refusals(node: exp.Expression) -> exp.Expression:
    # sqlglot would write the JSON-keys construct for Redshift as map_keys over a MAP cast, which
    # Redshift has neither of (it unnests SUPER objects with UNPIVOT ... AT, a different shape).
    if _json_object_keys(node) is not None:
        raise SqlError("Listing the keys of a JSON object (map_keys) has no Redshift translation.")
    return node


def _pyformat(tree: exp.Expression, dialect: str, names: Iterable[str]) -> str:
    """SQL for drivers that %-format the whole statement (psycopg, pyathena, redshift-connector
    set to pyformat): placeholders become %(name)s and every other % is doubled, including any
    inside string literals."""
    # A random marker cannot already occur in the SQL, so no literal is mistaken for a parameter.
    marker = f"p{secrets.token_hex(8)}"
    marked = tree.transform(
        lambda n: exp.Var(this=f"{marker}{n.name}{marker}") if isinstance(n, exp.Placeholder) else n
    )
    text = marked.sql(dialect=dialect).replace("%", "%%")
    for name in names:
        text = text.replace(f"{marker}{name}{marker}", f"%({name})s")
    return text


@dataclass(frozen=True)
class Statement:
    """A statement the portal sends to a remote warehouse through a write session: SQL of one
    dialect with %(name)s placeholders, and the values to bind."""

    sql: str
    params: dict[str, str | float | None]


def render(
    tree: exp.Expression, dialect: str, params: Mapping[str, str | float | None]
) -> Statement:
    """A statement built as a sqlglot tree (placeholders as exp.Placeholder) as SQL of
    ``dialect``, with the values of ``params`` it uses."""
    used = {n.name for n in tree.find_all(exp.Placeholder)}
    return Statement(
        sql=_pyformat(tree, dialect, used),
        params={k: v for k, v in params.items() if k in used},
    )


def translate(canonical: CanonicalSql, dialect: str) -> str:
    """The canonical query in ``dialect``, with placeholders in that engine's binding style.

    For postgres and athena the result is a pyformat template: pass the parameters as a dict,
    even an empty one, so that the driver turns %% back into %.
    """
    tree = canonical.tree
    if (count_if := COUNT_IF_FORMS.get(dialect)) is not None:
        tree = tree.transform(count_if)
    if dialect in ("postgres", "redshift"):
        tree = tree.transform(_postgres_compatible)
    if dialect == "postgres":
        tree = tree.transform(_postgres_types).transform(_postgres_json_keys)
    if dialect == "redshift":
        tree = tree.transform(_redshift_modulo).transform(_redshift_refusals)
    if dialect in ("postgres", "athena"):
        return _pyformat(tree, dialect, canonical.placeholders)
    return tree.sql(dialect=dialect)
