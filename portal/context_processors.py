from portal.navigation import sections_for
from portal.roles import Capability, capabilities, user_roles


def roles(request):
    """The user's roles, navigation and capabilities (``{% if can.experiments_write %}``): the
    same table (portal.roles.CAPABILITIES) that the pages and the API check."""
    nav = [(s, request.path.startswith(s.path)) for s in sections_for(request.user)]
    held = capabilities(request.user)
    return {
        "user_roles": sorted(user_roles(request.user)),
        "nav_sections": nav,
        "can": {c.value: c in held for c in Capability},
    }
