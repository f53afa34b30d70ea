"""Saved views: the list of mine and those shared with my roles; save the page I am on; rename,
share or delete mine."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from saved_views import selectors, services
from saved_views.forms import EditViewForm, SaveViewForm


@require_http_methods(["GET", "POST"])
def view_list(request):
    """GET: the list. POST: save the page the form was on (its path and query string)."""
    form = SaveViewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            view = services.saved_view_create(owner=request.user, **data)
        except ValidationError as err:
            for field, errors in err.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Saved as '{view.name}'.")
            back = data["url"]
            safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
            return redirect(back if safe else "saved-view-list")
    views = selectors.saved_views_for(request.user)
    mine = [v for v in views if v.owner_id == request.user.pk]
    context = {
        "form": form,
        "mine": [
            (v, EditViewForm(initial={"name": v.name, "shared_with": v.shared_with}, auto_id=False))
            for v in mine
        ],
        "shared": [v for v in views if v.owner_id != request.user.pk],
    }
    return render(request, "saved_views/list.html", context, status=400 if form.errors else 200)


@require_POST
def view_edit(request, view_id: int):
    """Rename or share (``action=save``) or delete (``action=delete``) one of my views; someone
    else's view it shows is 403, one it does not show 404."""
    if selectors.saved_view_get(view_id=view_id, user=request.user) is None:
        raise Http404("No such saved view.")
    if request.POST.get("action") == "delete":
        services.saved_view_delete(view_id=view_id, actor=request.user)
        messages.success(request, "View deleted.")
        return redirect("saved-view-list")
    form = EditViewForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(
                {f: [e["message"] for e in errs] for f, errs in form.errors.get_json_data().items()}
            )
        services.saved_view_update(view_id=view_id, actor=request.user, **form.cleaned_data)
    except ValidationError as err:
        errors = "; ".join(f"{f}: {' '.join(m)}" for f, m in err.message_dict.items())
        messages.error(request, errors)
    else:
        messages.success(request, "View saved.")
    return redirect("saved-view-list")
