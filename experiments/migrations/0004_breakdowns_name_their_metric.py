from django.db import migrations


def name_the_primary(apps, schema_editor):
    """Breakdowns stored before secondaries had them were all of the primary metric."""
    computation_model = apps.get_model("experiments", "ResultComputation")
    stored = computation_model.objects.exclude(breakdowns=[]).select_related("experiment")
    for computation in stored.iterator():
        for breakdown in computation.breakdowns:
            breakdown.setdefault("metric", computation.experiment.primary_metric)
        computation.save(update_fields=["breakdowns"])


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0003_read_any_time"),
    ]

    operations = [
        migrations.RunPython(name_the_primary, migrations.RunPython.noop),
    ]
