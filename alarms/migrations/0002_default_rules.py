from django.db import migrations

from alarms.defaults import default_rules


def create(apps, schema_editor):
    rule_model = apps.get_model("alarms", "AlarmRule")
    for rule in default_rules():
        rule_model.objects.get_or_create(name=rule["name"], defaults=rule)


def remove(apps, schema_editor):
    apps.get_model("alarms", "AlarmRule").objects.filter(name__in=[r["name"] for r in default_rules()]).delete()


class Migration(migrations.Migration):
    dependencies = [("alarms", "0001_alarm_rules_lifecycle_outbox")]
    operations = [migrations.RunPython(create, remove)]
