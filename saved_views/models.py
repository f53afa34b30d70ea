from django.conf import settings
from django.db import models

from portal.roles import Role


class SavedView(models.Model):
    """A page's state with a name: a dashboard, a metric or an explore view, as its URL holds
    it (path and query string). Private to its owner, or shared with everyone of one role.

    Opening it goes to that URL, whose page checks the viewer's access to the data as for any
    visit: a shared view never shows what the viewer's role may not read."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=120)
    path = models.CharField(max_length=200)
    query = models.CharField(max_length=2000, blank=True)
    # What the view shows (saved_views.targets): kept to check who may list it.
    kind = models.CharField(max_length=16)
    target = models.CharField(max_length=100)
    shared_with = models.CharField(
        max_length=16, blank=True, choices=[(r.value, r.value) for r in Role]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path
