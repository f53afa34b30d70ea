"""The embedded broker (no REDIS_URL): kombu's filesystem transport, made safe for real use.

kombu's own transport creates a message file and then writes it, so a consumer listing the
folder in between reads an empty file and the worker dies on a JSONDecodeError; a message taken
by a worker that is then killed is gone. This transport keeps kombu's folder layout and file
names, and changes three things:

- A message is written under a hidden name and renamed into place: a reader sees all of it or
  nothing. The exchange tables are created the same way.
- A consumer claims a message by renaming it into a folder of its own (``claimed/<owner>/``)
  and deletes it only on ack. Each owner holds a POSIX lock on its folder while it lives; any
  consumer that finds such a folder unlocked (its process died) puts the messages back, as a
  broker redelivers the unacked messages of a lost connection. A message that kept killing its
  consumer goes to ``dead/`` after MAX_RECOVERIES.
- A file that is not a message (cut short by a full disk, written by hand) is moved to
  ``corrupt/`` with a warning instead of stopping the worker.

Its folders ``claimed/``, ``corrupt/`` and ``dead/`` lie beside the queue folder
(``data_folder_in``). Celery selects it by class path: ``broker_transport =
"portal.broker:Transport"`` (kombu refuses class paths in broker URLs).
"""

import fcntl
import logging
import os
import time
import uuid
from contextlib import suppress
from pathlib import Path
from queue import Empty
from typing import IO, Any

from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

#: How often a consumer looks for the messages of dead consumers and old temporary files.
RECOVER_EVERY_S = 2.0
#: A message is delivered again this often after its consumer died; the next death parks it
#: in dead/ (it may be what kills them).
MAX_RECOVERIES = 3
#: A hidden temporary file this old belongs to a writer that died before its rename.
STALE_TMP_S = 600.0
RECOVERIES_KEY = "x_portal_recoveries"
LOCK_NAME = "owner.lock"

# Claim folders of this process: POSIX locks never conflict within one process, so its own
# folders must not be mistaken for those of a dead one.
_OWN_CLAIMS: set[Path] = set()


def _write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to a hidden file beside ``path``; the caller renames or links it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "xb") as f:
        f.write(data)
    return tmp


class QoS(virtual.QoS):
    """Drops a message's claimed file once the message is acked, rejected or restored."""

    def ack(self, delivery_tag):
        super().ack(delivery_tag)
        self.channel._release(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        super().reject(delivery_tag, requeue=requeue)
        self.channel._release(delivery_tag)

    def restore_unacked(self):
        tags = list(self._delivered)
        errors = super().restore_unacked()
        failed = {message.delivery_tag for _, message in errors}
        for tag in tags:
            if tag not in failed:
                self.channel._release(tag)
        return errors


class Channel(filesystem.Channel):
    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._claimed: dict[str, Path] = {}
        # Queues read without acks (Celery's remote-control replies): nothing to redeliver.
        self._no_ack_queues: set[str] = set()
        self._claim_dir: Path | None = None
        self._claim_lock: IO[bytes] | None = None
        self._next_recovery = 0.0
        super().__init__(*args, **kwargs)

    # -- folders ----------------------------------------------------------------------------

    @property
    def _broker_root(self) -> Path:
        return Path(self.data_folder_in).parent

    def _folder(self, name: str) -> Path:
        folder = self._broker_root / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _own_claim_dir(self) -> Path:
        if self._claim_dir is None:
            # Made and locked under a hidden name, so that no one sees it unlocked.
            name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            hidden = self._folder("claimed") / f".{name}"
            hidden.mkdir()
            lock = open(hidden / LOCK_NAME, "wb")  # noqa: SIM115 - held while the channel lives
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            folder = hidden.with_name(name)
            hidden.rename(folder)
            _OWN_CLAIMS.add(folder)
            self._claim_dir, self._claim_lock = folder, lock
        return self._claim_dir

    # -- writing ----------------------------------------------------------------------------

    def _put(self, queue, payload, **kwargs):
        name = f"{time.time_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        path = Path(self.data_folder_out) / name
        try:
            os.replace(_write_atomic(path, dumps(payload).encode()), path)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {str(path)!r} to directory") from exc

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        # kombu creates a new exchange table by open("wb") then write: a publisher reading it in
        # between finds no queue. Create it whole, then let kombu update it under its lock.
        file = self._exchange_file(exchange)
        if not file.exists():
            self.control_folder.mkdir(parents=True, exist_ok=True)
            tmp = _write_atomic(file, b"[]")
            try:
                os.link(tmp, file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)

    # -- reading ----------------------------------------------------------------------------

    def basic_consume(self, queue, no_ack, *args, **kwargs):
        (self._no_ack_queues.add if no_ack else self._no_ack_queues.discard)(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue, no_ack=False, **kwargs):
        (self._no_ack_queues.add if no_ack else self._no_ack_queues.discard)(queue)
        return super().basic_get(queue, no_ack=no_ack, **kwargs)

    def _get(self, queue):
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + RECOVER_EVERY_S
            self._recover()
        suffix = f".{queue}.msg"
        folder = Path(self.data_folder_in)
        for name in sorted(os.listdir(folder)):
            if name.startswith(".") or name.partition(".")[2] != suffix[1:]:
                continue
            claimed = self._own_claim_dir() / name
            try:
                os.rename(folder / name, claimed)
            except FileNotFoundError:
                continue  # another consumer took it
            try:
                payload = loads(claimed.read_bytes())
                tag = payload["properties"]["delivery_tag"]
            except (OSError, ValueError, TypeError, KeyError) as exc:
                self._quarantine(claimed, "corrupt", f"unreadable message file ({exc!r})")
                continue
            if queue in self._no_ack_queues:
                claimed.unlink()
            else:
                self._claimed[tag] = claimed
            return payload
        raise Empty()

    def _release(self, delivery_tag: str) -> None:
        if path := self._claimed.pop(delivery_tag, None):
            path.unlink(missing_ok=True)

    def _quarantine(self, path: Path, folder: str, why: str) -> None:
        target = self._folder(folder) / path.name
        log.warning("Broker: %s moved to %s: %s", path.name, target.parent, why)
        with suppress(FileNotFoundError):
            os.replace(path, target)

    def _recover(self) -> None:
        """Put back the messages claimed by consumers that died; sweep writers' leftovers."""
        claims = self._folder("claimed")
        for owner in claims.iterdir():
            if owner.name.startswith(".") or owner in _OWN_CLAIMS or not owner.is_dir():
                continue
            try:
                fd = os.open(owner / LOCK_NAME, os.O_WRONLY)
            except FileNotFoundError:
                continue  # being removed by another consumer
            with os.fdopen(fd, "wb") as lock:
                try:
                    fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its consumer is alive
                for path in sorted(owner.glob("*.msg")):
                    self._restore_claimed(path)
                (owner / LOCK_NAME).unlink(missing_ok=True)
                with suppress(OSError):
                    owner.rmdir()
        now = time.time()
        for folder in {Path(self.data_folder_in), Path(self.data_folder_out), self.control_folder}:
            for tmp in folder.glob(".*.tmp"):
                with suppress(FileNotFoundError):
                    if now - tmp.stat().st_mtime > STALE_TMP_S:
                        tmp.unlink()

    def _restore_claimed(self, path: Path) -> None:
        try:
            payload = loads(path.read_bytes())
            recoveries = int(payload.get(RECOVERIES_KEY, 0)) + 1
            payload["properties"].setdefault("delivery_info", {})["redelivered"] = True
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            self._quarantine(path, "corrupt", f"unreadable message file ({exc!r})")
            return
        if recoveries > MAX_RECOVERIES:
            self._quarantine(path, "dead", f"its consumer died {MAX_RECOVERIES} times")
            return
        payload[RECOVERIES_KEY] = recoveries
        target = Path(self.data_folder_in) / path.name  # back where it was read from
        os.replace(_write_atomic(target, dumps(payload).encode()), target)
        path.unlink(missing_ok=True)
        log.warning("Broker: redelivered %s, claimed by a consumer that died", path.name)

    def close(self):
        super().close()  # restores the unacked messages, which releases their files
        if self._claim_dir is not None and not self._claimed:
            _OWN_CLAIMS.discard(self._claim_dir)
            (self._claim_dir / LOCK_NAME).unlink(missing_ok=True)
            with suppress(OSError):
                self._claim_dir.rmdir()
            self._claim_lock.close()
            self._claim_dir = self._claim_lock = None


class Transport(filesystem.Transport):
    Channel = Channel
