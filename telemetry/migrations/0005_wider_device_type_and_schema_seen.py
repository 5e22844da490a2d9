"""Device types and firmware up to 64 characters; the schema-drift table.

The history table is partitioned (created in SQL), so its columns are widened in
SQL too; widening a varchar rewrites nothing.
"""

from django.db import migrations, models

WIDEN_READINGS = """
ALTER TABLE telemetry_reading ALTER COLUMN device_type TYPE varchar(64), ALTER COLUMN firmware TYPE varchar(64);
"""
NARROW_READINGS = """
ALTER TABLE telemetry_reading ALTER COLUMN device_type TYPE varchar(32), ALTER COLUMN firmware TYPE varchar(32);
"""


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0004_merge_dead_letters_and_liveness")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(WIDEN_READINGS, NARROW_READINGS)],
            state_operations=[
                migrations.AlterField("telemetryreading", "device_type", models.CharField(max_length=64)),
                migrations.AlterField("telemetryreading", "firmware", models.CharField(blank=True, max_length=64)),
            ],
        ),
        migrations.AlterField("devicestate", "device_type", models.CharField(max_length=64)),
        migrations.AlterField("devicestate", "firmware", models.CharField(blank=True, max_length=64)),
        migrations.CreateModel(
            name="SchemaSeen",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("device_type", models.CharField(max_length=64)),
                ("kind", models.CharField(max_length=16)),
                ("name", models.CharField(max_length=64)),
                ("count", models.BigIntegerField()),
                ("first_seen", models.DateTimeField()),
                ("last_seen", models.DateTimeField()),
            ],
            options={
                "db_table": "telemetry_schema_seen",
                "ordering": ["device_type", "kind", "name"],
                "verbose_name_plural": "schema seen (drift)",
                "constraints": [
                    models.UniqueConstraint(fields=("device_type", "kind", "name"), name="telemetry_schema_seen_key")
                ],
            },
        ),
    ]
