"""Consent: one record, the lake's consent_changes, and the portal's copy of it.

A change made in the portal goes to the lake first (privacy.consent_lake), then into the
portal's history with the lake's change id, in one database transaction. The changes the
pipeline loads into the lake come into the portal by import: one identity's when the console
looks it up, the recent partitions on a schedule (consent_sync). Imports skip the change ids
the portal holds, so a change that reached the lake but not the portal (its transaction failed)
is brought in, and nothing is counted twice.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, timedelta
from itertools import groupby

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone

from portal.roles import Access
from privacy import consent_lake, selectors
from privacy.consent_lake import LakeChange
from privacy.forms import data_end
from privacy.models import (
    LAKE_ACTOR,
    AuditEvent,
    ConsentChange,
    ConsentFlag,
    ConsentImport,
    ConsentState,
    id_validator,
)
from privacy.tombstone import TOMBSTONE_PREFIX, id_hash
from warehouse import services as warehouse

# Consent is never dropped (retention keeps consent_changes forever): its log starts here.
EARLIEST = date(2000, 1, 1)
IMPORT_BATCH = 5_000
SCOPE = frozenset({Access.GENERAL, Access.PRIVACY_VIEW})

logger = logging.getLogger(__name__)

# --- changes made in the portal


def consent_set(
    *,
    identity_id: str,
    flags: Mapping[str, bool],
    source: str,
    actor: str,
    instruction: str = "",
    evidence: str = "",
) -> ConsentState:
    """Set some consent flags of an identity: in the lake's consent_changes, then in the
    portal's history and state. A change by the privacy team (source privacy_team) needs the
    subject's ``instruction`` (how they asked) and ``evidence`` (a ticket reference, a form's
    id), and is audited.

    Raises ValidationError naming the field at fault, or consent_lake.ConsentLakeUnavailable
    when the lake could not be written (then nothing changed anywhere)."""
    try:
        id_validator(identity_id)
    except ValidationError as err:
        raise ValidationError({"identity_id": err.messages}) from None
    if not flags:
        raise ValidationError({"flags": ["Set at least one flag."]})
    unknown = sorted(set(flags) - set(ConsentFlag.values))
    if unknown:
        raise ValidationError({unknown[0]: ["Unknown consent flag."]})
    instruction, evidence = instruction.strip(), evidence.strip()
    if source == ConsentChange.Source.PRIVACY_TEAM:
        _proof_check(instruction, evidence)
    now = timezone.now()
    changes = [
        LakeChange(consent_lake.change_id_new(), identity_id, flag, value, source, now)
        for flag, value in flags.items()
    ]
    # The lake first: once it holds the change, the portal can only lag behind it (until the
    # import), never hold a change the lake lacks.
    consent_lake.consent_changes_append(changes=changes)
    try:
        return _consent_record(
            changes=changes, actor=actor, instruction=instruction, evidence=evidence
        )
    except DatabaseError:
        logger.error(
            "consent changes %s are in the lake but not in the portal; its import brings them in",
            ", ".join(c.change_id for c in changes),
        )
        raise


def _proof_check(instruction: str, evidence: str) -> None:
    errors = {}
    if instruction not in ConsentChange.Instruction.values:
        choices = ", ".join(ConsentChange.Instruction.values)
        errors["instruction"] = [f"Say how the subject asked for this change: one of {choices}."]
    if not evidence:
        errors["evidence"] = ["Give the reason or evidence: a ticket reference, a form's id."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def _consent_record(
    *, changes: list[LakeChange], actor: str, instruction: str, evidence: str
) -> ConsentState:
    identity_id, now = changes[0].identity_id, changes[0].changed_at
    ConsentState.objects.get_or_create(identity_id=identity_id, defaults={"updated_at": now})
    # Locked: changes of one identity are recorded one after the other.
    ConsentState.objects.select_for_update().get(identity_id=identity_id)
    ConsentChange.objects.bulk_create(
        ConsentChange(
            identity_id=identity_id,
            flag=change.flag,
            value=change.value,
            source=change.source,
            actor=actor,
            changed_at=now,
            lake_change_id=change.change_id,
            instruction=instruction,
            evidence=evidence,
        )
        for change in changes
    )
    if changes[0].source == ConsentChange.Source.PRIVACY_TEAM:
        AuditEvent.objects.create(
            action=AuditEvent.Action.CONSENT_CHANGED,
            actor=actor,
            subject_hash=id_hash(settings.PRIVACY_HASH_KEY, identity_id),
            detail={
                "given": [c.flag for c in changes if c.value],
                "withdrawn": [c.flag for c in changes if not c.value],
                "instruction": instruction,
                "evidence": evidence,
                "lake_change_ids": [c.change_id for c in changes],
            },
        )
    # The state from the whole history (the lake's rule: the latest change of each flag), so a
    # change that committed meanwhile with a later time is not overwritten by this one.
    _consent_states_rebuild([identity_id])
    state = ConsentState.objects.get(identity_id=identity_id)
    payload = selectors.consent_payload(state)
    # A set rather than a delete once committed: a reader that fetched the old row cannot put
    # it back (readers only add).
    transaction.on_commit(
        lambda: cache.set(
            selectors.consent_cache_key(identity_id),
            payload,
            timeout=settings.PRIVACY_CONSENT_CACHE_SECONDS,
        )
    )
    return state


def consent_push_unlinked() -> int:
    """Write to the lake the portal's changes it does not hold (recorded before the portal wrote
    there), a day at a time, and link each to its lake row. Returns how many went."""
    pending = (
        ConsentChange.objects.filter(lake_change_id__isnull=True)
        # An erased subject's rows hold the tombstone: the lake must not get them back.
        .exclude(identity_id__startswith=TOMBSTONE_PREFIX)
        .order_by("changed_at", "pk")
    )
    pushed = 0
    for _, group in groupby(pending.iterator(), key=lambda c: c.changed_at.astimezone(UTC).date()):
        rows = list(group)
        changes = [
            LakeChange(
                consent_lake.change_id_of_portal_row(row.pk),
                row.identity_id,
                row.flag,
                row.value,
                row.source,
                row.changed_at,
            )
            for row in rows
        ]
        consent_lake.consent_changes_append(changes=changes)
        for row, change in zip(rows, changes, strict=True):
            row.lake_change_id = change.change_id
        # ConsentChange is append-only (save() refuses): the link is a queryset update, the one
        # kind of change its rows take, and only of rows still unlinked.
        ConsentChange.objects.filter(lake_change_id__isnull=True).bulk_update(
            rows, ["lake_change_id"], batch_size=IMPORT_BATCH
        )
        pushed += len(rows)
    return pushed


# --- changes the lake holds

CONSENT_CHANGES_SQL = """
SELECT change_id, identity_id, flag, value, source, changed_ts
FROM consent_changes_v
WHERE event_dt BETWEEN :start AND :end
ORDER BY changed_ts, change_id
"""
IDENTITY_CHANGES_SQL = """
SELECT change_id, identity_id, flag, value, source, changed_ts
FROM consent_changes_v
WHERE event_dt BETWEEN :start AND :end AND identity_id = :identity_id
ORDER BY changed_ts, change_id
"""


def newest_day() -> date:
    """The last partition an import reads: today's (the portal writes there) or the newest of
    the data, whichever is later."""
    return max(timezone.now().astimezone(UTC).date(), data_end())


def consent_import_lake(*, start: date, end: date, pushed: int = 0) -> ConsentImport:
    """Copy the lake's consent changes of [start, end] into the portal's history (once each:
    re-importing skips what is there), recompute the consent of the identities that got new
    changes and drop their cached answers. Read through the privacy team's view, as a recorded
    query run. ``pushed``: portal changes written to the lake just before (recorded with it)."""
    result = warehouse.query_run_sync(
        sql=CONSENT_CHANGES_SQL,
        params={"start": start, "end": end},
        scope=SCOPE,
        label="privacy: consent import",
    )
    added = _consent_import(result.frame)
    return ConsentImport.objects.create(
        start=start,
        end=end,
        rows_read=len(result.frame),
        rows_added=added,
        pushed=pushed,
        run_id=result.run_id,
    )


def consent_import_identity(*, identity_id: str) -> int:
    """Copy one identity's whole consent history in the lake into the portal (the console does
    before it shows the identity, so it shows what the lake holds). Returns how many changes of
    it the lake holds."""
    result = warehouse.query_run_sync(
        sql=IDENTITY_CHANGES_SQL,
        params={"start": EARLIEST, "end": newest_day(), "identity_id": identity_id},
        scope=SCOPE,
        label="privacy: consent of one identity",
    )
    _consent_import(result.frame)
    return len(result.frame)


def consent_sync() -> ConsentImport:
    """The scheduled work: the portal's changes the lake lacks go there, then the lake's
    partitions since the last import (less PRIVACY_CONSENT_IMPORT_OVERLAP_DAYS, for late rows;
    everything the first time) come into the portal."""
    try:
        pushed = consent_push_unlinked()
    except consent_lake.ConsentLakeUnavailable:
        # The import still runs: a lake the portal cannot write must not leave the apps' answers
        # behind what it holds. The push is tried again at the next run.
        logger.exception("older portal consent changes could not be written to the lake")
        pushed = 0
    end = newest_day()
    last = ConsentImport.objects.first()
    overlap = timedelta(days=settings.PRIVACY_CONSENT_IMPORT_OVERLAP_DAYS)
    start = EARLIEST if last is None else min(last.end, end) - overlap
    return consent_import_lake(start=start, end=end, pushed=pushed)


def _consent_import(frame: pd.DataFrame) -> int:
    """Add the changes of ``frame`` the portal lacks; returns how many were added."""
    # Every source is kept (the pipeline may add some the portal does not know): dropping a
    # change would make the portal contradict the lake. A flag the portal lacks has no state.
    known = frame[frame["flag"].isin(ConsentFlag.values)] if len(frame) else frame
    added = 0
    identities: set[str] = set()
    with transaction.atomic():
        for begin in range(0, len(known), IMPORT_BATCH):
            batch = known.iloc[begin : begin + IMPORT_BATCH]
            held = set(
                ConsentChange.objects.filter(
                    lake_change_id__in=list(batch["change_id"])
                ).values_list("lake_change_id", flat=True)
            )
            new = [
                ConsentChange(
                    identity_id=row.identity_id,
                    flag=row.flag,
                    value=bool(row.value),
                    source=row.source,
                    actor=LAKE_ACTOR,
                    changed_at=row.changed_ts.to_pydatetime().replace(tzinfo=UTC),
                    lake_change_id=row.change_id,
                )
                for row in batch.itertuples(index=False)
                if row.change_id not in held
            ]
            # ignore_conflicts: an import running at the same time may add some first.
            ConsentChange.objects.bulk_create(new, ignore_conflicts=True)
            added += len(new)
            identities.update(c.identity_id for c in new)
        ordered = sorted(identities)
        for begin in range(0, len(ordered), IMPORT_BATCH):
            _consent_states_rebuild(ordered[begin : begin + IMPORT_BATCH])
        keys = [selectors.consent_cache_key(i) for i in identities]
        transaction.on_commit(lambda: cache.delete_many(keys))
    return added


def _consent_states_rebuild(identities: Iterable[str]) -> None:
    """Each identity's state from its whole history: the latest change of every flag."""
    states: dict[str, ConsentState] = {}
    history = ConsentChange.objects.filter(identity_id__in=identities).order_by("changed_at", "pk")
    for change in history.only("identity_id", "flag", "value", "changed_at"):
        state = states.setdefault(change.identity_id, ConsentState(identity_id=change.identity_id))
        setattr(state, change.flag, change.value)
        state.updated_at = change.changed_at
    ConsentState.objects.bulk_create(
        states.values(),
        update_conflicts=True,
        unique_fields=["identity_id"],
        update_fields=[*ConsentFlag.values, "updated_at"],
    )
