from datetime import timedelta

from rest_framework import serializers

from annotations.models import TEXT_MAX, Note
from annotations.selectors import LABELS

# Ten years: any comparison a chart offers (a year back) fits many times over.
MAX_WINDOW = timedelta(days=3660)
KINDS = ", ".join(LABELS)


class AnnotationWindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    metric = serializers.SlugField(required=False, default="", max_length=100)
    dashboard = serializers.SlugField(required=False, default="", max_length=100)

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["before start"]})
        if attrs["end"] - attrs["start"] > MAX_WINDOW:
            raise serializers.ValidationError({"end": [f"at most {MAX_WINDOW.days} days"]})
        if attrs["metric"] and attrs["dashboard"]:
            raise serializers.ValidationError({"dashboard": ["give a metric or a dashboard"]})
        return attrs


class NoteSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", read_only=True)
    editable = serializers.SerializerMethodField(help_text="You wrote it: you may change it.")

    class Meta:
        model = Note
        fields = ["id", "author", "at", "text", "metric", "dashboard", "editable"]
        fields += ["created_at", "updated_at"]
        read_only_fields = fields

    def get_editable(self, note: Note) -> bool:
        return note.author_id == self.context["user"].pk


class NoteCreateSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="A time, or a date (its midnight, UTC).")
    text = serializers.CharField(max_length=TEXT_MAX)
    metric = serializers.SlugField(
        required=False, default="", max_length=100, help_text="On this metric's charts only."
    )
    dashboard = serializers.SlugField(
        required=False, default="", max_length=100, help_text="On this dashboard only."
    )


class NoteUpdateSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False)
    text = serializers.CharField(required=False, max_length=TEXT_MAX)


class AnnotationSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=f"One of: {KINDS}.")
    label = serializers.CharField(help_text="The kind in words.")
    at = serializers.DateTimeField()
    title = serializers.CharField(help_text="The experiment, the alarm, or the note's author.")
    text = serializers.CharField(help_text="Kill reason, conclusion, alarm detail or the note.")
    link = serializers.CharField(help_text="Where to read more (empty for notes).")
    note = NoteSerializer(allow_null=True, help_text="The note, for notes; else null.")


class AnnotationListSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    items = AnnotationSerializer(many=True)
