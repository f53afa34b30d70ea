from django import template

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
