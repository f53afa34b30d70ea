"""Who may do what with experiments: PMs and admins run them, analysts read them."""

from portal.roles import Role, user_roles

READ_ROLES = (Role.ANALYST, Role.PM, Role.ADMIN)
WRITE_ROLES = (Role.PM, Role.ADMIN)
# Where results are stored (the table, the file in the lake) is for those who query it.
STORAGE_ROLES = (Role.ANALYST, Role.ADMIN)


def can_read(user) -> bool:
    return bool(user_roles(user) & set(READ_ROLES))


def can_write(user) -> bool:
    return bool(user_roles(user) & set(WRITE_ROLES))


def can_override_gate(user) -> bool:
    return Role.ADMIN in user_roles(user)


def can_see_storage(user) -> bool:
    return bool(user_roles(user) & set(STORAGE_ROLES))
