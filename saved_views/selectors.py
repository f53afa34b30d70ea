"""Reads of saved views: one's own and those shared with one's roles, only where the viewer may
read the data they show."""

from django.db.models import Q

from portal.roles import data_scope, user_roles
from saved_views.models import SavedView
from saved_views.targets import readable


def saved_views_for(user) -> list[SavedView]:
    """The user's own views and those shared with one of their roles (the viewer's own first),
    leaving out any whose data the user's role may not read."""
    roles = [r.value for r in user_roles(user)]
    views = (
        SavedView.objects.filter(Q(owner=user) | Q(shared_with__in=roles))
        .select_related("owner")
        .order_by("name", "pk")
    )
    scope = data_scope(user)
    seen: dict[tuple[str, str], bool] = {}  # a target is checked once per list

    def may_read(view: SavedView) -> bool:
        key = (view.kind, view.target)
        if key not in seen:
            seen[key] = readable(view.kind, view.target, scope)
        return seen[key]

    visible = [v for v in views if may_read(v)]
    return sorted(visible, key=lambda v: (v.owner_id != user.pk, v.name.lower(), v.pk))


def saved_view_get(*, view_id: int, user) -> SavedView | None:
    """One view the user may see (see saved_views_for), else None."""
    view = SavedView.objects.filter(pk=view_id).select_related("owner").first()
    if view is None:
        return None
    mine = view.owner_id == user.pk
    shared = view.shared_with and view.shared_with in {r.value for r in user_roles(user)}
    if not (mine or shared) or not readable(view.kind, view.target, data_scope(user)):
        return None
    return view
