from django.contrib import admin

from experiments.models import ProtectedSurface


@admin.register(ProtectedSurface)
class ProtectedSurfaceAdmin(admin.ModelAdmin):
    """The compliance registry: surfaces no experiment may target."""

    list_display = ("slug", "name", "kind")
    list_filter = ("kind",)
    search_fields = ("slug", "name")
