from django import template
from django.utils.html import format_html

from privacy.models import DsarRequest

MISSING = "\N{EN DASH}"

register = template.Library()


@register.filter
def cents(value) -> str:
    """Minor units as a decimal amount: 123456 -> "1,234.56"; missing -> an en dash."""
    if value is None:
        return MISSING
    return f"{int(value) / 100:,.2f}"


@register.filter
def number(value, places: int = 0) -> str:
    """A number with thousands separators and ``places`` decimals; missing -> an en dash."""
    if value is None:
        return MISSING
    return f"{float(value):,.{int(places)}f}"


@register.simple_tag
def countdown(request: DsarRequest) -> str:
    """Days left until the due date, or how late it is; nothing once the request is closed."""
    if request.is_closed:
        return MISSING
    days = request.days_left
    if days < 0:
        return format_html(
            '<span class="bad overdue">{} day{} overdue</span>', -days, "" if days == -1 else "s"
        )
    if days == 0:
        return format_html('<span class="bad">due today</span>')
    css = "warn" if days <= 7 else "muted"
    return format_html('<span class="{}">{} day{} left</span>', css, days, "" if days == 1 else "s")


@register.filter
def exported_rows(tables: list[dict]) -> str | None:
    """Rows an access export holds, summed over its tables."""
    return f"{sum(t['rows'] for t in tables):,}" if tables else None


@register.filter
def as_text(detail: dict) -> str:
    """An audit detail as a reader writes it: "rows changed: 1,204; tables: raw_events, events".
    Numbers get separators, lists are joined, empty values are left out."""
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, int | float):
            value = f"{value:,}"
        elif isinstance(value, list):
            value = ", ".join(_item(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {_item(v)}" for k, v in value.items())
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _item(value) -> str:
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values())
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
