"""Test-only TCP proxy that lets redshift-connector talk to a plain PostgreSQL server.

redshift-connector sends startup parameters PostgreSQL rejects (``client_protocol_version``,
``driver_version``, ``os_version``, …) and parses ``server_version`` strictly ("15.2 (Debian …)"
does not parse). The proxy, on 127.0.0.1 and an ephemeral port:

- answers an SSLRequest or GSSENCRequest with 'N', so a client with ssl=False (or one that
  asks anyway) goes on in plain text;
- forwards the StartupMessage keeping only the parameters PostgreSQL knows;
- rewrites the ``server_version`` ParameterStatus to a Redshift-like version;
- passes everything else through untouched, authentication included (trust auth works; a
  SCRAM request would reach the driver, which refuses it).

It runs an asyncio loop in a daemon thread, is used as a context manager, and closes itself
after ``lifetime_s`` even if the test never exits the block.
"""

import asyncio
import contextlib
import struct
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from psycopg.conninfo import conninfo_to_dict

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
# Startup parameters PostgreSQL accepts that the driver may send; the rest are dropped.
KEPT_PARAMETERS = frozenset({"user", "database", "application_name", "options", "client_encoding"})


def rewrite_startup(body: bytes) -> bytes:
    """A StartupMessage body (after its length) with unknown parameters dropped, re-framed."""
    fields = body[4:].split(b"\0")
    pairs = zip(fields[0::2], fields[1::2], strict=False)
    kept = b"".join(k + b"\0" + v + b"\0" for k, v in pairs if k.decode() in KEPT_PARAMETERS)
    payload = body[:4] + kept + b"\0"
    return struct.pack("!i", len(payload) + 4) + payload


def rewrite_parameter_status(payload: bytes, server_version: bytes) -> bytes:
    key, _value, *_ = payload.split(b"\0")
    if key == b"server_version":
        payload = key + b"\0" + server_version + b"\0"
    return payload


class PgRedshiftProxy:
    def __init__(
        self,
        upstream_host: str = "127.0.0.1",
        upstream_port: int = 5432,
        *,
        server_version: str = "8.0.2",
        lifetime_s: float = 120.0,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.server_version = server_version.encode()
        self.lifetime_s = lifetime_s
        self.host = "127.0.0.1"
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-redshift-proxy", daemon=True)
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(timeout=5) or self._error is not None:
            raise RuntimeError(f"proxy did not start: {self._error}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as err:  # reported to __enter__ if it happens at start-up
            self._error = err
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        connections: set[asyncio.Task] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                # Cancelled at shutdown; ending quietly keeps asyncio from logging it as an error.
                with contextlib.suppress(asyncio.CancelledError):
                    await self._proxy(reader, writer)
            finally:
                connections.discard(task)

        server = await asyncio.start_server(on_connect, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.lifetime_s)
        server.close()
        # Open sessions are cut before waiting, since wait_closed() waits for them (3.12+).
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    async def _proxy(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_w: asyncio.StreamWriter | None = None
        try:
            first = await self._startup(client_r, client_w)
            upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
            upstream_w.write(first)
            pipes = [
                asyncio.create_task(self._copy(client_r, upstream_w)),
                asyncio.create_task(self._backend_to_client(upstream_r, client_w)),
            ]
            try:
                # Either side hanging up ends the session.
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for writer in filter(None, (client_w, upstream_w)):
                writer.close()

    async def _startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """The client's first real packet, after declining any encryption request."""
        while True:
            header = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack("!i", header)[0] - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            if code == PROTOCOL_3:
                return rewrite_startup(body)
            return header + body  # CancelRequest and the like pass through unchanged

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()

    async def _backend_to_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            kind = await reader.readexactly(1)
            header = await reader.readexactly(4)
            payload = await reader.readexactly(struct.unpack("!i", header)[0] - 4)
            if kind == b"S":
                payload = rewrite_parameter_status(payload, self.server_version)
                header = struct.pack("!i", len(payload) + 4)
            writer.write(kind + header + payload)
            await writer.drain()  # returns at once unless the client is slow to read


@contextlib.contextmanager
def redshift_settings(settings, dsn: str) -> Iterator[None]:
    """``settings`` (pytest-django's) with WAREHOUSE = "redshift", reaching the PostgreSQL of
    ``dsn`` through the proxy, for as long as the block runs."""
    where = conninfo_to_dict(dsn)
    upstream = (where.get("host", "127.0.0.1"), int(where.get("port", 5432)))
    with PgRedshiftProxy(*upstream) as proxy:
        settings.WAREHOUSE = "redshift"
        settings.REDSHIFT = {
            "host": proxy.host,
            "port": proxy.port,
            "database": where["dbname"],
            "user": where.get("user", "postgres"),
            "password": where.get("password", ""),
            "ssl": False,
        }
        yield
