from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The home page: what to look at first, gathered from every other app (the top layer)."""

    name = "home"
