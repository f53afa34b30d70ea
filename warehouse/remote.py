"""Connections to the remote warehouses for the statements that change data there: DSAR
UPDATEs, retention DELETEs and the experiment results the portal writes (the engines in
warehouse.engines only read)."""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

from django.conf import settings
from sqlglot import exp

from warehouse.engines.base import TransientWarehouseError, WarehouseError
from warehouse.lake.erasure_sql import DIALECTS, Statement, render

# The warehouses a session is opened to (the embedded lake is changed file by file instead).
ENGINES = DIALECTS


class Session(Protocol):
    def execute(self, statement: Statement) -> None: ...

    def count(self, statement: Statement) -> int: ...

    def values(self, statement: Statement) -> list: ...


class _CursorSession:
    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def execute(self, statement: Statement) -> None:
        self.cursor.execute(statement.sql, statement.params)

    def count(self, statement: Statement) -> int:
        self.cursor.execute(statement.sql, statement.params)
        return int(self.cursor.fetchone()[0])

    def values(self, statement: Statement) -> list:
        """The first column of every row."""
        self.cursor.execute(statement.sql, statement.params)
        return [row[0] for row in self.cursor.fetchall()]


# The schema `manage.py lake_to_postgres` loads and the PostgreSQL engine reads.
POSTGRES_SCHEMA = "lake"


def schema(engine: str) -> str | None:
    """Where the lake tables live: the loader's schema, Athena's database, Redshift's default."""
    if engine == "postgres":
        return POSTGRES_SCHEMA
    return {"athena": settings.ATHENA["database"], "redshift": None}[engine]


@contextmanager
def session(engine: str) -> Iterator[Session]:
    """A session on ``engine``. The driver's errors, connecting or running a statement, come out
    as the engines' WarehouseError (TransientWarehouseError when unreachable or worth a retry),
    so that callers need not know each driver."""
    # Each driver (and its engine's error mapping) is imported only when that engine is used.
    if engine == "postgres":
        import psycopg

        try:
            conn = psycopg.connect(settings.WAREHOUSE_POSTGRES_URL, autocommit=True)
        except psycopg.OperationalError as err:
            raise TransientWarehouseError(f"cannot connect to PostgreSQL: {err}") from err
        try:
            with conn, conn.cursor() as cursor:
                yield _CursorSession(cursor)
        except psycopg.OperationalError as err:
            raise TransientWarehouseError(str(err)) from err
        except psycopg.Error as err:
            raise WarehouseError(str(err)) from err
    elif engine == "athena":
        from pyathena import connect

        from warehouse.engines import athena

        conf = settings.ATHENA
        try:
            conn = connect(
                region_name=conf["region"],
                work_group=conf["workgroup"],
                s3_staging_dir=conf["s3_output"],
                schema_name=conf["database"],
                catalog_name=conf["catalog"],
            )
            try:
                yield _CursorSession(conn.cursor())
            finally:
                with suppress(*athena.DRIVER_ERRORS):  # not to hide the error that ended it
                    conn.close()
        except athena.DRIVER_ERRORS as err:
            raise athena.map_error(err, None) from err
    elif engine == "redshift":
        import redshift_connector

        from warehouse.engines import redshift

        conf = settings.REDSHIFT
        try:
            conn = redshift_connector.connect(
                host=conf["host"],
                port=conf["port"],
                database=conf["database"],
                user=conf["user"],
                password=conf["password"],
                ssl=conf["ssl"],
                application_name="portal-writes",
            )
            try:
                conn.autocommit = True
                cursor = conn.cursor()
                cursor.paramstyle = "pyformat"
                yield _CursorSession(cursor)
            finally:
                with suppress(*redshift.DRIVER_ERRORS):  # not to hide the error that ended it
                    conn.close()
        except redshift.DRIVER_ERRORS as err:
            raise redshift.map_error(err) from err
    else:
        raise ValueError(f"no remote session for engine {engine!r}")


def tables_statement(dialect: str, schema: str | None) -> Statement:
    """The names of the base tables in ``schema`` (Redshift: the session's current schema): what
    retention and the results writer look for before touching a contract table."""
    where = (
        exp.Placeholder(this="schema")
        if schema is not None
        else exp.Anonymous(this="current_schema")
    )
    tree = (
        exp.select(exp.column("table_name"))
        .from_(exp.table_("tables", db="information_schema"))
        .where(
            exp.and_(
                exp.EQ(this=exp.column("table_schema"), expression=where),
                exp.EQ(this=exp.column("table_type"), expression=exp.Literal.string("BASE TABLE")),
            )
        )
    )
    return render(tree, dialect, {"schema": schema} if schema is not None else {})


def table_names(session: Session, engine: str) -> set[str]:
    """The base tables the warehouse holds where the portal's statements go."""
    return set(session.values(tables_statement(engine, schema(engine))))
