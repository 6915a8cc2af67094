"""Stored errors held the first 500 characters of a receiver's answer and raw network error texts; keep only
the status code or an error class (issue 10)."""

from django.db import migrations


def _error_class(status_code, error: str) -> str:
    if not error:
        return ""
    if status_code is not None:
        return f"HTTP {status_code}"
    text = error.lower()
    if "refused" in text:
        return "connection refused"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    return "endpoint inactive" if error == "endpoint inactive" else "connection failed"


def forget_bodies(apps, schema_editor):
    for model, code_field, error_field in (("WebhookAttempt", "status_code", "error"),
                                           ("WebhookDelivery", "last_status_code", "last_error")):
        rows = apps.get_model("webhooks", model).objects.exclude(**{error_field: ""})
        for row in rows.iterator():
            clean = _error_class(getattr(row, code_field), getattr(row, error_field))
            if clean != getattr(row, error_field):
                setattr(row, error_field, clean)
                row.save(update_fields=[error_field])


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]
    operations = [migrations.RunPython(forget_bodies, migrations.RunPython.noop)]
