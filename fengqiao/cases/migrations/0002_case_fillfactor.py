"""Leave room on each page of the case table (PostgreSQL only).

Sweeps and workflow actions update cases in place; with free space on the page
PostgreSQL can do heap-only (HOT) updates that touch none of the table's
indexes when no indexed column changes.
"""

from django.db import migrations


def set_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case SET (fillfactor = 85)")


def reset_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE cases_case RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
