from django.contrib.auth.models import Group, User


def user_with_role(role: str, username: str | None = None) -> User:
    """A user holding one role (groups are re-created: transactional tests flush them)."""
    user = User.objects.create_user(username or f"{role}-user", password="pw")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user
