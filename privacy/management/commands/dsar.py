import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from privacy import dsar_job, selectors, services
from privacy.dsar_preview import dsar_preview_compute
from privacy.models import DsarRequest

# A request still queued this long after `dsar run` most likely has no worker to take it.
WORKER_HINT_AFTER_S = 10.0


class Command(BaseCommand):
    help = (
        "File, verify, approve, run, extend, reject, cancel and show DSAR requests "
        "(erasure, or access and portability)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        file = sub.add_parser(
            "file", help="file a request and scan what it would touch; prints its id"
        )
        file.add_argument(
            "--type", dest="kind", choices=DsarRequest.Kind.values, default=DsarRequest.Kind.ERASURE
        )
        file.add_argument("--identity-id", default="")
        file.add_argument("--user-id", default="")
        file.add_argument("--reason", required=True)
        file.add_argument("--requester", required=True, help="user name of the privacy user")
        preview = sub.add_parser("preview", help="scan again what a filed request would change")
        preview.add_argument("request", type=int)
        verify = sub.add_parser("verify", help="record how the subject's identity was verified")
        verify.add_argument("request", type=int)
        verify.add_argument(
            "--method", required=True, choices=DsarRequest.VerificationMethod.values
        )
        verify.add_argument("--note", default="")
        verify.add_argument("--by", required=True, help="user name of the privacy user")
        extend = sub.add_parser("extend", help="move the due date, with the reason")
        extend.add_argument("request", type=int)
        extend.add_argument("--days", type=int, required=True)
        extend.add_argument("--reason", required=True)
        extend.add_argument("--by", required=True, help="user name of the privacy user")
        for action, what in (("reject", "reject a request"), ("cancel", "cancel a request")):
            close = sub.add_parser(action, help=f"{what} that has not run, with the reason")
            close.add_argument("request", type=int)
            close.add_argument("--reason", required=True)
            close.add_argument("--by", required=True, help="user name of the privacy user")
        approve = sub.add_parser("approve", help="approve a request filed by someone else")
        approve.add_argument("request", type=int)
        approve.add_argument("--by", required=True, help="user name of the approver")
        run = sub.add_parser("run", help="run the erasure job, wait, print per-table results")
        run.add_argument("request", type=int)
        run.add_argument(
            "--inline", action="store_true", help="run here instead of on a Celery worker"
        )
        run.add_argument("--timeout", type=float, default=3600, help="seconds to wait")
        show = sub.add_parser("show", help="print a request")
        show.add_argument("request", type=int)
        show.add_argument("--json", action="store_true")

    def handle(self, *args, action: str, **options):
        try:
            if action == "file":
                dsar = services.dsar_file(
                    kind=options["kind"],
                    identity_id=options["identity_id"],
                    user_id=options["user_id"],
                    reason=options["reason"],
                    requester=_user(options["requester"]),
                    enqueue=False,
                )
                self.stdout.write(str(dsar.pk))
                self.stdout.flush()
                self._preview(dsar.pk)
                return
            request_id = options["request"]
            if not DsarRequest.objects.filter(pk=request_id).exists():
                raise CommandError(f"no DSAR request {request_id}")
            if action == "preview":
                self._preview(request_id)
            elif action == "verify":
                services.dsar_verify(
                    request_id=request_id,
                    method=options["method"],
                    note=options["note"],
                    actor=_user(options["by"]),
                )
                self.stdout.write(f"request {request_id}: identity verified")
            elif action == "extend":
                dsar = services.dsar_extend(
                    request_id=request_id,
                    days=options["days"],
                    reason=options["reason"],
                    actor=_user(options["by"]),
                )
                self.stdout.write(f"request {request_id} now due {dsar.due_date}")
            elif action in ("reject", "cancel"):
                status = {"reject": "rejected", "cancel": "cancelled"}[action]
                services.dsar_close(
                    request_id=request_id,
                    status=status,
                    reason=options["reason"],
                    actor=_user(options["by"]),
                )
                self.stdout.write(f"request {request_id} {status}")
            elif action == "approve":
                services.dsar_approve(request_id=request_id, approver=_user(options["by"]))
                self.stdout.write(f"request {request_id} approved")
            elif action == "run":
                self._run(request_id, inline=options["inline"], timeout=options["timeout"])
            else:
                self._show(request_id, as_json=options["json"])
        except ValidationError as err:
            field, messages = next(iter(err.message_dict.items()))
            raise CommandError(f"{field}: {' '.join(messages)}") from None
        except services.DsarRefused as err:
            raise CommandError(str(err)) from None

    def _take_over(self, request_id: int, *, inline: bool) -> None:
        """The job holding the request died (no heartbeat for the stale limit): queue it again,
        or run it here, rather than wait for nothing."""
        self.stdout.write(
            f"request {request_id}: its job stopped reporting for more than "
            f"{settings.PRIVACY_DSAR_STALE_SECONDS} s; taking it over"
        )
        self.stdout.flush()
        dsar = services.dsar_queue(request_id=request_id, enqueue=not inline)
        if inline and dsar.status == DsarRequest.Status.QUEUED:
            dsar_job.dsar_execute(request_id=request_id)

    def _preview(self, request_id: int) -> None:
        """Scan what the request would change, here; print it (to stderr: stdout of `file` is
        the request id alone). An unknown subject exits non-zero."""
        dsar = dsar_preview_compute(request_id=request_id)
        preview = dsar.preview or {}
        if dsar.status == DsarRequest.Status.UNKNOWN_SUBJECT:
            raise CommandError(
                f"request {request_id} closed as an unknown subject: no id column holds the "
                f"{' or the '.join(preview['unknown_ids'])}; nothing will be erased or exported"
            )
        if preview.get("error"):
            raise CommandError(f"request {request_id}: the preview scan failed: {preview['error']}")
        if not preview:
            raise CommandError(f"request {request_id} is {dsar.status}: its preview is final")
        verb = "export" if dsar.kind == DsarRequest.Kind.ACCESS else "change"
        self.stderr.write(
            f"request {request_id} would {verb} {preview['rows']} rows in {preview['files']} "
            f"files of {len(preview['tables'])} tables ({', '.join(preview['targets'])}), "
            f"with {preview['linked_ids']} linked ids"
        )

    def _run(self, request_id: int, *, inline: bool, timeout: float) -> None:
        dsar = services.dsar_queue(request_id=request_id, enqueue=not inline)
        if inline and dsar.status == DsarRequest.Status.QUEUED:
            dsar_job.dsar_execute(request_id=request_id)
        started = time.monotonic()
        hinted = False
        while not (dsar := DsarRequest.objects.get(pk=request_id)).is_finished:
            waited = time.monotonic() - started
            queued = dsar.status == DsarRequest.Status.QUEUED
            # Before the timeout: a slow machine still says why it waited, once.
            if queued and not hinted and waited >= WORKER_HINT_AFTER_S:
                self.stdout.write(
                    f"request {request_id} is still queued after {waited:.0f} s: no Celery worker "
                    "seems to be consuming the queue; start one, or stop this and run "
                    f"`manage.py dsar run {request_id} --inline` to run it in this process "
                    "(still waiting)"
                )
                self.stdout.flush()  # shown now, not when the command ends
                hinted = True
            if waited > timeout:
                raise CommandError(f"request {request_id} is still {dsar.status}")
            if dsar.status == DsarRequest.Status.RUNNING and selectors.dsar_is_stale(dsar):
                self._take_over(request_id, inline=inline)
                continue
            time.sleep(0.5)
        summary = selectors.dsar_summary(selectors.dsar_detail(request_id=request_id))
        for t in summary["tables"]:
            self.stdout.write(
                f"{t['target']}.{t['table']}\t{t['state']}\trows_changed={t['rows_changed']}"
                f"\tfiles_with_ids={t['files_with_ids']}\tfiles_rewritten={t['files_rewritten']}"
                f"\tremaining={t['remaining_rows']}\t{t['duration_s']} s"
            )
        if summary["linked_ids"]:
            self.stdout.write(f"ids linked in dim_identities, erased too: {summary['linked_ids']}")
        if summary["physical_followup"]:
            # The rows no longer hold the ids; the warehouse's storage may (old row versions,
            # snapshots) until these run.
            self.stdout.write("still to do physically in the warehouse:")
            for step in summary["physical_followup"]:
                self.stdout.write(f"  {step}")
        if dsar.status == DsarRequest.Status.FAILED:
            raise CommandError(f"request {request_id} failed: {dsar.error}")
        if dsar.kind == DsarRequest.Kind.ACCESS:
            rows = sum(t["rows"] for t in dsar.export_tables)
            self.stdout.write(
                f"request {request_id} completed: {rows} rows of {len(dsar.export_tables)} tables "
                f"exported to {dsar.export_file} ({dsar.export_bytes} bytes, sha256 "
                f"{dsar.export_sha256}), downloadable until {dsar.export_expires_at:%Y-%m-%d %H:%M}"
                " UTC"
            )
            return
        note = "" if dsar.rows_changed else " (no row held these ids; nothing changed)"
        self.stdout.write(
            f"request {request_id} completed: {dsar.rows_changed} rows changed, "
            f"{dsar.files_rewritten} files rewritten, verified{note}"
        )

    def _show(self, request_id: int, *, as_json: bool) -> None:
        summary = selectors.dsar_summary(selectors.dsar_detail(request_id=request_id))
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
            return
        for key in ("id", "status", "requester", "approved_by", "due_date", "rows_changed"):
            self.stdout.write(f"{key}: {summary[key]}")
        if preview := summary["preview"]:
            self.stdout.write(
                f"preview: {preview.get('rows')} rows in {preview.get('files')} files, "
                f"{preview.get('linked_ids')} linked ids"
                + (f" (scan failed: {preview['error']})" if preview.get("error") else "")
            )
        for t in summary["tables"]:
            self.stdout.write(f"  {t['target']}.{t['table']}: {t['state']}, {t['rows_changed']}")


def _user(username: str):
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user {username!r}") from None
