"""The embedded broker (portal.broker): whole messages only, bad files set aside, and the
messages of a consumer that died delivered again."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.transport import filesystem, virtual

from portal import broker

QUEUE = Queue("jobs", Exchange("jobs", type="direct"), routing_key="jobs")


@pytest.fixture(autouse=True)
def _fresh_broker_state(monkeypatch):
    # The transports remember declared bindings per process, whatever the folder: each test has
    # folders of its own.
    for transport in (filesystem.Transport, broker.Transport):
        monkeypatch.setattr(transport, "global_state", virtual.BrokerState())


def _options(root: Path) -> dict:
    for sub in ("queue", "control"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "control_folder": str(root / "control"),
        "polling_interval": 0.01,
    }


def _connection(root: Path, transport=broker.Transport) -> Connection:
    return Connection("filesystem://", transport=transport, transport_options=_options(root))


def _publish(conn: Connection, body, headers: dict | None = None) -> None:
    Producer(conn.default_channel).publish(
        body,
        exchange=QUEUE.exchange,
        routing_key="jobs",
        declare=[QUEUE],
        serializer="json",
        headers=headers,
    )


def _get(conn: Connection, **kwargs):
    return QUEUE(conn.default_channel).get(accept=["json"], **kwargs)


class _ReadsWhileSerialised:
    """A message header: while the transport serialises it, a consumer reads the queue, as a
    worker polling the folder may do at any moment of a write."""

    def __init__(self, consumer: Connection):
        self.consumer = consumer
        self.seen: list = []

    def __json__(self):
        self.seen.append(_get(self.consumer))
        return "payload"


@pytest.mark.parametrize(
    "transport, reader_fails",
    [(filesystem.Transport, True), (broker.Transport, False)],
    ids=["kombu-filesystem", "portal-broker"],
)
def test_a_consumer_never_reads_a_message_being_written(tmp_path, transport, reader_fails):
    with _connection(tmp_path, transport) as producer, _connection(tmp_path, transport) as reader:
        _publish(producer, {"n": 0})
        assert _get(reader, no_ack=True).payload == {"n": 0}
        body = _ReadsWhileSerialised(reader)
        if reader_fails:
            # kombu's own transport: the consumer finds the created, still empty file.
            with pytest.raises(ValueError, match="Expecting value"):
                _publish(producer, {"n": 1}, headers={"x": body})
            return
        _publish(producer, {"n": 1}, headers={"x": body})
        assert body.seen == [None]  # nothing there yet, rather than half of it
        message = _get(reader)
        assert (message.payload, message.headers["x"]) == ({"n": 1}, "payload")
        message.ack()
        assert not list((tmp_path / "claimed").rglob("*.msg"))


def test_a_corrupt_file_is_set_aside_and_the_next_message_delivered(tmp_path, caplog):
    with _connection(tmp_path) as conn:
        _publish(conn, {"n": 1})
        queue = tmp_path / "queue"
        # Older names than the good message's: read first.
        (queue / f"{1:020d}_cut.jobs.msg").write_bytes(b'{"properties": {"deliv')
        (queue / f"{2:020d}_empty.jobs.msg").write_bytes(b"")
        message = _get(conn)
        assert message.payload == {"n": 1}
        message.ack()
        assert len(list((tmp_path / "corrupt").iterdir())) == 2
        assert not list(queue.iterdir())
        assert _get(conn) is None
    assert "unreadable message file" in caplog.text


CLAIM_AND_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from kombu import Connection
    from portal.tests.test_broker import _get, _options
    from pathlib import Path
    from portal import broker
    with Connection("filesystem://", transport=broker.Transport,
                    transport_options=_options(Path(sys.argv[1]))) as conn:
        message = _get(conn)
        print(message.payload["n"], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _claim_and_die(root: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CLAIM_AND_DIE, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(broker.__file__).parents[1],
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip()


def test_the_message_of_a_killed_consumer_is_delivered_again(tmp_path, monkeypatch):
    monkeypatch.setattr(broker, "RECOVER_EVERY_S", 0.0)
    with _connection(tmp_path) as conn:
        _publish(conn, {"n": 1})
        _publish(conn, {"n": 2})
        assert _claim_and_die(tmp_path) == "1"
        assert len(list((tmp_path / "claimed").rglob("*.msg"))) == 1
        first = _get(conn)
        assert first.payload == {"n": 1}
        assert first.delivery_info["redelivered"] is True
        second = _get(conn)
        assert second.payload == {"n": 2}
        first.ack()
        second.ack()
        assert _get(conn) is None
    # The dead consumer's folder went when its message did; this one's at its close.
    assert list((tmp_path / "claimed").iterdir()) == []


def test_a_message_that_kills_every_consumer_is_parked(tmp_path, monkeypatch):
    monkeypatch.setattr(broker, "RECOVER_EVERY_S", 0.0)
    with _connection(tmp_path) as conn:
        _publish(conn, {"n": 1})
        for _ in range(broker.MAX_RECOVERIES + 1):
            assert _claim_and_die(tmp_path) == "1"
        assert _get(conn) is None
        (parked,) = (tmp_path / "dead").iterdir()
        assert parked.name.endswith(".jobs.msg")


def test_a_living_consumers_messages_stay_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(broker, "RECOVER_EVERY_S", 0.0)
    with _connection(tmp_path) as first, _connection(tmp_path) as second:
        _publish(first, {"n": 1})
        taken = _get(first)
        assert _get(second) is None
        # Not even this process's other channels take it, though POSIX locks never conflict
        # within one process.
        with _connection(tmp_path) as third:
            assert _get(third) is None
        taken.reject(requeue=True)
        again = _get(second)
        assert again.payload == {"n": 1}
        again.ack()


def test_messages_read_without_ack_leave_nothing_claimed(tmp_path):
    with _connection(tmp_path) as conn:
        _publish(conn, {"n": 1})
        seen = []
        with Consumer(conn, [QUEUE], callbacks=[lambda body, m: seen.append(body)], no_ack=True):
            conn.drain_events(timeout=5)
        assert seen == [{"n": 1}]
        assert not list((tmp_path / "claimed").rglob("*.msg"))


def test_the_portal_uses_it_without_redis(settings):
    if settings.REDIS_URL:
        pytest.skip("REDIS_URL set: the broker is Redis")
    from portal.celery import app

    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, broker.Transport)
    assert os.path.isdir(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
