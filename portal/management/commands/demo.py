import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.roles import Role

# The worker's pool is threads, not prefork: with a broker that has no event loop (the embedded
# one, portal/broker.py) Celery's prefork pool shares one pipe and lock among its children, and a
# child killed while holding that lock hangs the others for good. A worker that dies as a whole
# is restarted below, and its unacked messages are redelivered by the broker.
PROCESSES = {
    "web": [sys.executable, "manage.py", "runserver", "{addr}", "--noreload"],
    "worker": [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--loglevel",
        "INFO",
        "--pool",
        "threads",
        "--concurrency",
        "2",
        # Gossip, mingle and event heartbeats talk to other workers through the broker; there
        # are none, and with the filesystem broker they leave files for queues nobody reads.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ],
    "beat": [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(settings.CELERY_BEAT_SCHEDULE_FILENAME),
    ],
}
# Restarted when they exit; the web server is not (if it stops, the demo is over).
RESTARTED = ("worker", "beat")
# A process that ran this long before exiting had started fine: its next restart is immediate.
HEALTHY_AFTER_S = 30.0
# A process that keeps exiting soon after its start is broken: give up after this many tries.
MAX_QUICK_RESTARTS = 5
# Waits before a restart grow with the quick exits in a row: 0, 1, 3, 7, ... times this.
RESTART_BACKOFF_S = 1.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen = field(init=False)
    started: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=settings.BASE_DIR)
        self.started = time.monotonic()
        self.restart_at = None


class Command(BaseCommand):
    help = (
        "Run the web server, a Celery worker and Celery beat together; a worker or beat that "
        "dies is restarted; Ctrl-C stops all three."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        children = {
            name: Child(name, [part.format(addr=addr) for part in argv])
            for name, argv in PROCESSES.items()
        }
        for child in children.values():
            child.start()
        logins = ", ".join(f"{role.value}/demo" for role in Role)
        self.stdout.write(self.style.SUCCESS(f"\nPortal: http://{addr}/   logins: {logins}\n"))
        stop = False

        def request_stop(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        failed = None
        while not stop and failed is None:
            failed = self._supervise(children.values())
            time.sleep(0.5)
        if failed:
            self.stderr.write(f"{failed}; stopping the rest.")
        self._stop_all(children.values())
        if failed:
            sys.exit(1)

    def _supervise(self, children) -> str | None:
        """Restart the worker or beat that exited (soon after an exit, later after repeated
        quick exits); the reason to stop everything, if any."""
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.stderr.write(f"Restarting {child.name}.")
                    child.start()
                continue
            code = child.proc.poll()
            if code is None:
                continue
            if child.name not in RESTARTED:
                return f"{child.name} stopped (exit code {code})"
            ran_s = now - child.started
            child.quick_exits = 0 if ran_s >= HEALTHY_AFTER_S else child.quick_exits + 1
            if child.quick_exits >= MAX_QUICK_RESTARTS:
                return f"{child.name} exited {child.quick_exits} times in a row soon after start"
            delay = min(RESTART_BACKOFF_S * (2**child.quick_exits - 1), 30.0)
            self.stderr.write(
                self.style.WARNING(
                    f"{child.name} exited (code {code}) after {ran_s:.0f} s; "
                    f"restarting it in {delay:.1f} s."
                )
            )
            child.restart_at = now + delay
        return None

    def _stop_all(self, children) -> None:
        running = [c.proc for c in children if c.restart_at is None and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + 10
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
