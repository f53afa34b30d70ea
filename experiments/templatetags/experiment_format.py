from django import template

register = template.Library()
MISSING = "\u2013"  # an en dash, as the portal's tables show a missing value


@register.filter
def signed_pct(value, places: int = 1) -> str:
    """0.031 -> '+3.1%'; None -> an en dash."""
    if value is None:
        return MISSING
    return f"{value * 100:+.{int(places)}f}%"


@register.filter
def pct(value, places: int = 1) -> str:
    if value is None:
        return MISSING
    return f"{value * 100:.{int(places)}f}%"


@register.filter
def pvalue(value) -> str:
    if value is None:
        return MISSING
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


@register.filter
def number(value, places: int = 3) -> str:
    if value is None:
        return MISSING
    return f"{value:,.{int(places)}f}"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None
