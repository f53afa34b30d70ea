from django.db import migrations

# Surfaces experiments may never target (the plan: experiments never change legal texts or
# consent components). Admins can add more in the Django admin.
SURFACES = (
    ("terms_of_service", "Terms of service", "legal_text"),
    ("privacy_policy", "Privacy policy", "legal_text"),
    ("cookie_policy", "Cookie policy", "legal_text"),
    ("imprint", "Imprint (legal notice)", "legal_text"),
    ("booking_terms", "Booking and cancellation terms", "legal_text"),
    ("consent_banner", "Consent banner", "consent_component"),
    ("consent_settings", "Privacy settings (consent toggles)", "consent_component"),
    ("marketing_consent", "Marketing consent checkbox", "consent_component"),
)


def seed(apps, schema_editor):
    surface = apps.get_model("experiments", "ProtectedSurface")
    for slug, name, kind in SURFACES:
        surface.objects.get_or_create(slug=slug, defaults={"name": name, "kind": kind})


class Migration(migrations.Migration):
    dependencies = [("experiments", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
