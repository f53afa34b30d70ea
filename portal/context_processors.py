from portal.navigation import sections_for
from portal.roles import user_roles


def roles(request):
    nav = [(s, request.path.startswith(s.path)) for s in sections_for(request.user)]
    return {"user_roles": sorted(user_roles(request.user)), "nav_sections": nav}
