import os

from celery import Celery
from celery.signals import beat_init, task_received, worker_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_to_start_on_check_errors(**kwargs) -> None:
    """A worker or beat with a broken setting stops at once, as runserver does: Celery runs
    Django's system checks but only logs their errors. SystemExit passes Celery's signal
    dispatch, which swallows ordinary exceptions."""
    # Here, not at the top: the checks need Django set up, which this module comes before.
    from django.core import checks

    errors = [message for message in checks.run_checks() if message.is_serious()]
    if errors:
        raise SystemExit("\n".join(["System check identified errors:", *map(str, errors)]))


_heartbeat = None


@worker_ready.connect
def start_heartbeat(sender, **kwargs) -> None:
    """The worker's row in the portal DB, beaten from a thread: /healthz counts live workers."""
    global _heartbeat
    # portal.heartbeat uses models: this module is imported before Django is set up.
    from portal.heartbeat import Heartbeat

    _heartbeat = Heartbeat(sender.hostname, slots=sender.controller.concurrency)
    _heartbeat.start()


@task_received.connect
def note_task_received(request, **kwargs) -> None:
    from portal.heartbeat import note_received  # see start_heartbeat

    note_received(request)


@worker_shutdown.connect
def stop_heartbeat(**kwargs) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
