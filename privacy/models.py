from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from warehouse.lake.contract import ID_FORMAT_HELP, ID_FORMATS

# Identity and user ids as the lake writes them (idn_…, usr_…): no spaces, no separators that a
# cache key or a URL would mangle.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
id_validator = RegexValidator(ID_PATTERN, "Use up to 128 letters, digits and _ . : -")
# A DSAR subject's ids must be ids as the lake contract writes them: an erasure of anything
# else (a city name, an e-mail address) would hit other people's data or nothing at all.
subject_validators = {
    kind: RegexValidator(
        rf"\A{pattern}\Z", f"Not an id of the lake contract: use {ID_FORMAT_HELP[kind]}."
    )
    for kind, pattern in ID_FORMATS.items()
}


class AppendOnly(models.Model):
    """Rows are written once: saving an existing row or deleting one is refused.

    The one sanctioned change is a DSAR erasure, which replaces ids with a tombstone through
    a queryset update (privacy.dsar_job._erase_portal_records)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} rows are append-only")


class ConsentFlag(models.TextChoices):
    MARKETING = "marketing"
    ANALYTICS = "analytics"
    PERSONALIZATION = "personalization"


class ConsentState(models.Model):
    """The current consent of one identity: what the apps ask for, on the hot path."""

    identity_id = models.CharField(max_length=128, unique=True, validators=[id_validator])
    marketing = models.BooleanField(default=False)
    analytics = models.BooleanField(default=False)
    personalization = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.identity_id

    def flags(self) -> dict[str, bool]:
        return {flag: getattr(self, flag) for flag in ConsentFlag.values}


class ConsentChange(AppendOnly):
    """One change of one flag: the history behind ConsentState, never rewritten."""

    class Source(models.TextChoices):
        BANNER = "banner"
        SETTINGS = "settings"
        API = "api"
        PRIVACY_TEAM = "privacy_team"
        LAKE_IMPORT = "lake_import"

    class Instruction(models.TextChoices):
        """How the subject told the privacy team to change their consent (manual changes)."""

        SUBJECT_EMAIL = "subject_email", "e-mail from the subject"
        SUPPORT_TICKET = "support_ticket", "support ticket"
        SIGNED_FORM = "signed_form", "signed form"
        PHONE_CALL = "phone_call", "phone call with the subject"
        LETTER = "letter", "letter from the subject"

    identity_id = models.CharField(max_length=128, db_index=True)
    flag = models.CharField(max_length=32, choices=ConsentFlag.choices)
    value = models.BooleanField()
    source = models.CharField(max_length=32, choices=Source.choices)
    actor = models.CharField(max_length=150, help_text="user name or service:<token name>")
    changed_at = models.DateTimeField()
    # The change's row in the lake's consent_changes (its change_id): set when the portal wrote
    # it there, or imported it from there. Unique, so importing twice adds nothing.
    lake_change_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The proof of a manual change (source privacy_team), required by privacy.consent for every
    # new one; no database constraint, since changes recorded before it have none.
    instruction = models.CharField(max_length=32, choices=Instruction.choices, blank=True)
    evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["identity_id", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.identity_id} {self.flag}={self.value}"

    @property
    def from_lake(self) -> bool:
        """Imported from the lake (the pipeline wrote it), not recorded in the portal."""
        return self.actor == LAKE_ACTOR


# The actor of the changes imported from the lake's consent_changes.
LAKE_ACTOR = "lake:consent_changes"


class ConsentImport(models.Model):
    """One import of the lake's consent_changes into the portal (scheduled, or manage.py
    consent_import): when, which partitions, what it read and added."""

    at = models.DateTimeField(auto_now_add=True)
    start = models.DateField()
    end = models.DateField()
    rows_read = models.IntegerField()
    rows_added = models.IntegerField()
    # Portal changes not yet in the lake (recorded before the portal wrote there), written to it
    # just before this import.
    pushed = models.IntegerField(default=0)
    run_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"consent import {self.start}..{self.end}: {self.rows_added} added"


class DsarRequest(models.Model):
    """A data subject's request: filed, the subject's identity verified, approved by a second
    person, run, verified; or rejected or cancelled with a reason before it runs.

    An erasure replaces the subject's ids everywhere (privacy.dsar_job); an access request
    exports every row holding them (privacy.dsar_export)."""

    class Kind(models.TextChoices):
        ERASURE = "erasure"
        ACCESS = "access", "access and portability"

    class Status(models.TextChoices):
        FILED = "filed"
        APPROVED = "approved"
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        # The preview found none of the filed ids in any id column: nothing to do, closed.
        UNKNOWN_SUBJECT = "unknown_subject"
        # Closed by the privacy team (identity not verified, manifestly unfounded) or withdrawn.
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    class VerificationMethod(models.TextChoices):
        ACCOUNT_LOGIN = "account_login", "signed in to the account"
        EMAIL_CONFIRMATION = "email_confirmation", "confirmed from the account's e-mail"
        ID_DOCUMENT = "id_document", "identity document checked"
        SIGNED_LETTER = "signed_letter", "signed letter"
        AUTHORISED_AGENT = "authorised_agent", "authorised agent with a mandate"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ERASURE)

    # The ids to erase; blanked once the erasure is verified (the keyed hash stays).
    identity_id = models.CharField(max_length=128, blank=True, validators=[id_validator])
    user_id = models.CharField(max_length=128, blank=True, validators=[id_validator])
    # The other ids dim_identities links to these (a user's identities, an identity's user),
    # found when the job first runs (None until then) and erased with them; blanked like them.
    linked_ids = models.JSONField(null=True, blank=True)
    linked_count = models.IntegerField(null=True, blank=True)
    # Keyed hashes of the ids (privacy.tombstone.id_hash): kept after the ids are blanked.
    identity_hash = models.CharField(max_length=64, blank=True, db_index=True)
    user_hash = models.CharField(max_length=64, blank=True, db_index=True)
    reason = models.TextField()
    # The privacy-team member who filed it; someone else must approve it.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField()
    filed_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FILED)
    # How the subject proved who they are, recorded before anyone may approve.
    verification_method = models.CharField(
        max_length=32, choices=VerificationMethod.choices, blank=True
    )
    verification_note = models.TextField(blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    # Days added to the due date (at most PRIVACY_DSAR_MAX_EXTENSION_DAYS) and why.
    extended_days = models.PositiveSmallIntegerField(default=0)
    extension_reason = models.TextField(blank=True)
    # Who rejected or cancelled it, and why.
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    close_reason = models.TextField(blank=True)
    # An access request's export: a zip under PRIVACY_EXPORT_DIR, deleted when it expires.
    export_file = models.CharField(max_length=255, blank=True)
    export_bytes = models.BigIntegerField(null=True, blank=True)
    export_sha256 = models.CharField(max_length=64, blank=True)
    export_expires_at = models.DateTimeField(null=True, blank=True)
    # What the export holds, per table: [{"source": ..., "table": ..., "rows": n}] (no ids).
    export_tables = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched while the job works; a running request whose heartbeat stopped may be re-run.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    rows_changed = models.BigIntegerField(null=True, blank=True)
    files_rewritten = models.IntegerField(null=True, blank=True)
    remaining_rows = models.BigIntegerField(null=True, blank=True)
    # What an erasure would change, scanned after filing and shown to the approver: counts per
    # table, never the linked ids themselves (privacy.dsar_preview). None until scanned.
    preview = models.JSONField(null=True, blank=True)
    # What the warehouse still holds physically (old Iceberg snapshots, Redshift dead rows).
    physical_followup = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-filed_at"]
        constraints = [
            # Open requests name an id; closed ones have forgotten theirs (forget_ids).
            models.CheckConstraint(
                condition=~Q(identity_id="", user_id="")
                | Q(status__in=["completed", "unknown_subject", "rejected", "cancelled"]),
                name="dsar_request_names_an_id",
            )
        ]

    def __str__(self) -> str:
        return f"DSAR {self.pk} [{self.status}]"

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id the erasure replaces: those filed, then those linked to them."""
        return tuple(dict.fromkeys(i for i in (self.identity_id, self.user_id) if i)) + tuple(
            self.linked_ids or ()
        )

    def scrub(self, text: str, placeholder: str = "[id]") -> str:
        """``text`` without the request's ids (someone may have typed one into a note)."""
        for value in self.ids:
            text = text.replace(value, placeholder)
        return text

    def forget_ids(self, placeholder: str) -> None:
        """Blank the ids once the request is closed (unsaved): the proof is kept (hashes,
        counts, audit), the ids are gone, from every note typed about it too."""
        for field in ("reason", "verification_note", "extension_reason", "close_reason"):
            setattr(self, field, self.scrub(getattr(self, field), placeholder))
        self.identity_id = self.user_id = ""
        self.linked_ids = []

    @property
    def subject_hash(self) -> str:
        return self.identity_hash or self.user_hash

    @property
    def is_finished(self) -> bool:
        """No job will run for it unless someone runs it again (a failed one may be)."""
        return self.status in (self.Status.FAILED, *CLOSED_STATUSES)

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def is_overdue(self) -> bool:
        """Its due date has passed and it is not closed yet (a failed run included)."""
        return not self.is_closed and self.days_left < 0

    @property
    def days_left(self) -> int:
        """Days until the due date (negative: overdue), counted on the day it is filed from
        (privacy.services.dsar_file)."""
        return (self.due_date - timezone.now().date()).days

    @property
    def is_verified(self) -> bool:
        return bool(self.verified_at)

    @property
    def has_export(self) -> bool:
        """An access export that can still be downloaded."""
        return bool(self.export_file) and bool(
            self.export_expires_at and self.export_expires_at > timezone.now()
        )


# A request in one of these states is done with: nothing more runs for it.
CLOSED_STATUSES = (
    DsarRequest.Status.COMPLETED,
    DsarRequest.Status.UNKNOWN_SUBJECT,
    DsarRequest.Status.REJECTED,
    DsarRequest.Status.CANCELLED,
)


class DsarTableResult(models.Model):
    """Progress and outcome of one request on one table (or one remote warehouse table)."""

    class State(models.TextChoices):
        PENDING = "pending"
        SCANNING = "scanning"
        REWRITING = "rewriting"
        DONE = "done"

    request = models.ForeignKey(DsarRequest, on_delete=models.CASCADE, related_name="tables")
    target = models.CharField(max_length=32, help_text="lake, or the remote warehouse's name")
    table = models.CharField(max_length=128)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    files_total = models.IntegerField(default=0)
    files_with_ids = models.IntegerField(default=0)
    files_rewritten = models.IntegerField(default=0)
    rows_changed = models.BigIntegerField(default=0)
    remaining_rows = models.BigIntegerField(null=True, blank=True)
    duration_s = models.FloatField(default=0)
    statements = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["target", "table"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "target", "table"], name="one_result_per_request_table"
            )
        ]

    def __str__(self) -> str:
        return f"{self.target}.{self.table}: {self.state}"


class AuditEvent(AppendOnly):
    """The privacy audit log: DSAR steps, retention deletions, consent changed by the privacy
    team (with their proof), and changes of users, groups and permissions
    (privacy.account_audit), with who did them.

    Holds no raw identity or user ids: a DSAR's or consent change's subject appears as a keyed
    hash."""

    class Action(models.TextChoices):
        DSAR_FILED = "dsar.filed"
        DSAR_PREVIEWED = "dsar.previewed"
        DSAR_UNKNOWN_SUBJECT = "dsar.unknown_subject"
        DSAR_REQUEUED = "dsar.requeued"
        DSAR_APPROVED = "dsar.approved"
        DSAR_STARTED = "dsar.started"
        DSAR_TABLE = "dsar.table"
        DSAR_VERIFIED = "dsar.verified"
        DSAR_FAILED = "dsar.failed"
        DSAR_IDENTITY_VERIFIED = "dsar.identity_verified"
        DSAR_EXTENDED = "dsar.extended"
        DSAR_REJECTED = "dsar.rejected"
        DSAR_CANCELLED = "dsar.cancelled"
        DSAR_EXPORTED = "dsar.exported"
        DSAR_EXPORT_DOWNLOADED = "dsar.export_downloaded"
        DSAR_EXPORT_EXPIRED = "dsar.export_expired"
        RETENTION_DROPPED = "retention.dropped"
        RETENTION_DELETED = "retention.deleted"
        CONSENT_CHANGED = "consent.changed"
        USER_CREATED = "user.created"
        USER_CHANGED = "user.changed"
        USER_DELETED = "user.deleted"
        USER_GROUPS = "user.groups"
        USER_PERMISSIONS = "user.permissions"
        GROUP_CREATED = "group.created"
        GROUP_CHANGED = "group.changed"
        GROUP_DELETED = "group.deleted"
        GROUP_PERMISSIONS = "group.permissions"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.CharField(max_length=150)
    request = models.ForeignKey(
        DsarRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="audit"
    )
    subject_hash = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor}"


class PayloadScan(models.Model):
    """One check of the lake's raw_events payload keys against the PII allowlist."""

    started_at = models.DateTimeField(auto_now_add=True)
    start = models.DateField()
    end = models.DateField()
    run_id = models.BigIntegerField(null=True, blank=True)
    # Per event name and key with something wrong: off its schema, a PII-looking key off the
    # allowlist, PII-looking sampled values (privacy.payload_check.payload_violations).
    violations = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"payload scan {self.start}..{self.end}: {len(self.violations)} violations"
