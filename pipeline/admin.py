from django.contrib import admin

from pipeline.models import DeadLetterReason, HealthRun, ThresholdOverride, TriageNote


@admin.register(ThresholdOverride)
class ThresholdOverrideAdmin(admin.ModelAdmin):
    list_display = ("name", "value", "note", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(HealthRun)
class HealthRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "as_of", "days", "started_at", "finished_at", "outcome")
    list_filter = ("outcome",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeadLetterReason)
class DeadLetterReasonAdmin(admin.ModelAdmin):
    list_display = ("reason", "first_seen", "last_seen", "triaged_at", "triaged_by")
    readonly_fields = ("reason", "first_seen", "last_seen", "samples", "digested_at")
    exclude = ("triaged_at", "triaged_by", "triage_note")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TriageNote)
class TriageNoteAdmin(admin.ModelAdmin):
    """The triage audit trail: read-only."""

    list_display = ("reason", "user", "note", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
