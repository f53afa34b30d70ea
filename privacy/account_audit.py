"""Changes of users, groups (roles are groups, portal.roles) and permissions go to the privacy
audit log (AuditEvent), whoever makes them: the admin site, a management command, the shell.

Recorded from Django's model signals, so no code path that changes an account is missed, in the
same transaction as the change (rolled back with it). Who did it: the logged-in user of the
request being served (AuditActorMiddleware keeps it in a context variable), else the management
command, else "system".
"""

import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from privacy.models import AuditEvent
from privacy.services import audit_log

# The request being served, if any: its user is who changes accounts.
_request: ContextVar = ContextVar("audit_request", default=None)

# User fields whose change is recorded (with old and new value); a login's last_login is not.
USER_FIELDS = ("username", "is_active", "is_staff", "is_superuser")


class AuditActorMiddleware:
    """Keeps the request in a context variable while it is served, so that an account change
    made by a view (the admin site's included) is audited with the user who made it."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def current_actor() -> str:
    request = _request.get()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.get_username()
    if request is not None:
        return "anonymous"
    if len(sys.argv) > 1 and sys.argv[0].endswith("manage.py"):
        return f"manage.py {sys.argv[1]}"
    return "system"


def _record(action: str, detail: dict) -> None:
    audit_log(action=action, actor=current_actor(), detail=detail)


# --- users


def _user_before(sender, instance, update_fields=None, **kwargs) -> None:
    """The tracked fields as stored, before a save that may change them."""
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not set(update_fields) & set(USER_FIELDS):
        return  # e.g. last_login at each login: no query for it
    stored = sender.objects.filter(pk=instance.pk).values(*USER_FIELDS).first()
    instance._audit_before = stored


def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        _record(
            AuditEvent.Action.USER_CREATED,
            {field: getattr(instance, field) for field in USER_FIELDS},
        )
        return
    before = instance.__dict__.pop("_audit_before", None)
    if not before:
        return
    changes = {
        field: [before[field], getattr(instance, field)]
        for field in USER_FIELDS
        if before[field] != getattr(instance, field)
    }
    if changes:
        _record(
            AuditEvent.Action.USER_CHANGED,
            {"username": instance.get_username(), "changes": changes},
        )


def _user_deleted(sender, instance, **kwargs) -> None:
    _record(AuditEvent.Action.USER_DELETED, {"username": instance.get_username()})


# --- groups


def _group_before(sender, instance, **kwargs) -> None:
    if not instance._state.adding and instance.pk is not None:
        instance._audit_name = (
            sender.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
        )


def _group_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        _record(AuditEvent.Action.GROUP_CREATED, {"group": instance.name})
        return
    before = instance.__dict__.pop("_audit_name", None)
    if before is not None and before != instance.name:
        _record(AuditEvent.Action.GROUP_CHANGED, {"group": instance.name, "renamed_from": before})


def _group_deleted(sender, instance, **kwargs) -> None:
    _record(AuditEvent.Action.GROUP_DELETED, {"group": instance.name})


# --- memberships and permissions (many-to-many, changed from either side)


def _permission_names(pks: Iterable[int]) -> list[str]:
    rows = Permission.objects.filter(pk__in=pks).values_list("content_type__app_label", "codename")
    return sorted(f"{app}.{codename}" for app, codename in rows)


def _group_names(pks: Iterable[int]) -> list[str]:
    return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))


def _m2m_receiver(
    *,
    owner: type,
    action_name: str,
    owner_label: Callable,
    related_names: Callable[[Iterable[int]], list[str]],
    relation: str,
) -> Callable:
    """A receiver of one many-to-many relation (owner.relation -> related): one audit event per
    owner changed, with the names added or removed, whichever side the change was made from."""

    def receiver(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
        if action == "pre_clear":
            # Cleared rows are gone by post_clear: read them now.
            if reverse:
                owners = owner.objects.filter(**{relation: instance}).values_list("pk", flat=True)
                instance._audit_cleared = list(owners)
            else:
                instance._audit_cleared = list(
                    getattr(instance, relation).values_list("pk", flat=True)
                )
            return
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        if action == "post_clear":
            pk_set = set(instance.__dict__.pop("_audit_cleared", ()))
        if not pk_set:
            return
        key = "added" if action == "post_add" else "removed"
        if reverse:  # e.g. group.user_set.add(user): one event per user
            for changed in owner.objects.filter(pk__in=pk_set):
                _record(action_name, {**owner_label(changed), key: related_names([instance.pk])})
        else:
            _record(action_name, {**owner_label(instance), key: related_names(pk_set)})

    return receiver


def connect() -> None:
    """Called once by PrivacyConfig.ready()."""
    user_model = get_user_model()
    uid = "privacy.account_audit"
    pre_save.connect(_user_before, sender=user_model, dispatch_uid=f"{uid}.user_before")
    post_save.connect(_user_saved, sender=user_model, dispatch_uid=f"{uid}.user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid=f"{uid}.user_deleted")
    pre_save.connect(_group_before, sender=Group, dispatch_uid=f"{uid}.group_before")
    post_save.connect(_group_saved, sender=Group, dispatch_uid=f"{uid}.group_saved")
    post_delete.connect(_group_deleted, sender=Group, dispatch_uid=f"{uid}.group_deleted")

    def username(user) -> dict:
        return {"username": user.get_username()}

    def group(g) -> dict:
        return {"group": g.name}

    for through, receiver in (
        (
            user_model.groups.through,
            _m2m_receiver(
                owner=user_model,
                action_name=AuditEvent.Action.USER_GROUPS,
                owner_label=username,
                related_names=_group_names,
                relation="groups",
            ),
        ),
        (
            user_model.user_permissions.through,
            _m2m_receiver(
                owner=user_model,
                action_name=AuditEvent.Action.USER_PERMISSIONS,
                owner_label=username,
                related_names=_permission_names,
                relation="user_permissions",
            ),
        ),
        (
            Group.permissions.through,
            _m2m_receiver(
                owner=Group,
                action_name=AuditEvent.Action.GROUP_PERMISSIONS,
                owner_label=group,
                related_names=_permission_names,
                relation="permissions",
            ),
        ),
    ):
        m2m_changed.connect(
            receiver, sender=through, weak=False, dispatch_uid=f"{uid}.{through.__name__}"
        )
