import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.roles import Role

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
        "--concurrency",
        "2",
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


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together; Ctrl-C stops all three."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        children = {
            name: subprocess.Popen([part.format(addr=addr) for part in argv], cwd=settings.BASE_DIR)
            for name, argv in PROCESSES.items()
        }
        logins = ", ".join(f"{role.value}/demo" for role in Role)
        self.stdout.write(self.style.SUCCESS(f"\nPortal: http://{addr}/   logins: {logins}\n"))
        stop = False

        def request_stop(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop:
            exited = [name for name, proc in children.items() if proc.poll() is not None]
            if exited:
                self.stderr.write(f"{', '.join(exited)} stopped; stopping the rest.")
                break
            time.sleep(0.5)
        for proc in children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if not stop:
            sys.exit(1)
