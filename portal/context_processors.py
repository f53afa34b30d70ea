from portal.roles import user_roles


def roles(request):
    return {"user_roles": sorted(user_roles(request.user))}
