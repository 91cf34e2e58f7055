from django.db import migrations


def forwards(apps, schema_editor):
    from fengqiao.registry.groups import install_default_groups

    install_default_groups(apps.get_model("registry", "SpecialGroup"))


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_groups_places_organisations"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
