"""Writes of saved views: save, rename or share, delete. Only the owner changes a view."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from portal.roles import ROLE_ACCESS, Role, data_scope
from saved_views.models import SavedView
from saved_views.targets import NotSaveable, readable, target_of


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["Give the view a name."]})
    if len(name) > 120:
        raise ValidationError({"name": ["Use at most 120 characters."]})
    return name


def _checked_share(shared_with: str, kind: str, slug: str) -> str:
    """A view is shared with a role that may read its data, or with nobody ("")."""
    if not shared_with:
        return ""
    if shared_with not in {r.value for r in Role}:
        raise ValidationError({"shared_with": [f"Choose one of {', '.join(Role)}, or none."]})
    if not readable(kind, slug, ROLE_ACCESS[Role(shared_with)]):
        raise ValidationError(
            {"shared_with": [f"The {shared_with} role may not read the data of this view."]}
        )
    return shared_with


@transaction.atomic
def saved_view_create(*, owner, name: str, url: str, shared_with: str = "") -> SavedView:
    """Save the state of the page at ``url`` (path and query string) as ``name``."""
    name = _checked_name(name)
    try:
        target = target_of(url)
    except NotSaveable as err:
        raise ValidationError({"url": [str(err)]}) from None
    if not readable(target.kind, target.slug, data_scope(owner)):
        raise ValidationError({"url": ["You may not read the data of this page."]})
    shared_with = _checked_share(shared_with, target.kind, target.slug)
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                owner=owner,
                name=name,
                path=target.path,
                query=target.query,
                kind=target.kind,
                target=target.slug,
                shared_with=shared_with,
            )
    except IntegrityError:
        raise ValidationError({"name": ["You already have a view with this name."]}) from None


@transaction.atomic
def saved_view_update(
    *, view_id: int, actor, name: str | None = None, shared_with: str | None = None
) -> SavedView:
    """Rename a view or change whom it is shared with; the owner only."""
    view = _owned(view_id, actor)
    if name is not None:
        view.name = _checked_name(name)
        if SavedView.objects.filter(owner=actor, name=view.name).exclude(pk=view.pk).exists():
            raise ValidationError({"name": ["You already have a view with this name."]})
    if shared_with is not None:
        view.shared_with = _checked_share(shared_with, view.kind, view.target)
    view.save()
    return view


@transaction.atomic
def saved_view_delete(*, view_id: int, actor) -> None:
    _owned(view_id, actor).delete()


def _owned(view_id: int, actor) -> SavedView:
    view = SavedView.objects.select_for_update().get(pk=view_id)
    if view.owner_id != actor.pk:
        raise PermissionDenied("Only the view's owner may change it.")
    return view
