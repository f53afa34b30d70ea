from django import template

from portal.roles import Role

register = template.Library()


@register.inclusion_tag("saved_views/_save.html", takes_context=True)
def save_view_form(context) -> dict:
    """The "Save this view" form of the page being rendered."""
    return {
        "request": context["request"],
        "csrf_token": context.get("csrf_token"),
        "roles": [r.value for r in Role],
    }
