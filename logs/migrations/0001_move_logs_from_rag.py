"""Take over the log models from the ``rag`` app without touching the database.

The tables (``rag_log_file``, ``rag_system_log``, ``rag_log_hourly_*``) were
created by ``rag.0001_initial``; this migration only records the models in the
``logs`` app's state, so existing databases keep every row. ``rag``'s
``0003_logs_moved_to_logs_app`` removes them from ``rag``'s state afterwards.
"""

import django.db.models.deletion
from django.db import migrations, models


def _pk(*fields):
    return ("pk", models.CompositePrimaryKey(*fields, blank=True, editable=False, primary_key=True, serialize=False))


def _log_file_fk():
    return (
        "log_file",
        models.ForeignKey(
            db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="logs.logfile"
        ),
    )


STATE = [
    migrations.CreateModel(
        name="LogFile",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("path", models.CharField(db_index=True, max_length=1024)),
            ("sha256", models.CharField(help_text="digest of the bytes ingested so far", max_length=64, unique=True)),
            ("size_bytes", models.BigIntegerField(default=0, help_text="bytes consumed (always ends on a line boundary)")),
            ("lines_read", models.BigIntegerField(default=0)),
            ("lines_stored", models.BigIntegerField(default=0)),
            ("malformed", models.BigIntegerField(default=0)),
            ("complete", models.BooleanField(default=False)),
            ("created_at", models.DateTimeField(auto_now_add=True)),
            ("updated_at", models.DateTimeField(auto_now=True)),
        ],
        options={"db_table": "rag_log_file"},
    ),
    migrations.CreateModel(
        name="LogHourlyLatency",
        fields=[
            _pk("log_file", "hour", "response_time_ms"),
            ("hour", models.DateTimeField()),
            ("response_time_ms", models.IntegerField()),
            ("requests", models.BigIntegerField()),
            _log_file_fk(),
        ],
        options={"db_table": "rag_log_hourly_latency"},
    ),
    migrations.CreateModel(
        name="LogHourlyCount",
        fields=[
            _pk("log_file", "hour", "ip", "status"),
            ("hour", models.DateTimeField()),
            ("ip", models.CharField(max_length=64)),
            ("status", models.SmallIntegerField()),
            ("requests", models.BigIntegerField()),
            _log_file_fk(),
        ],
        options={
            "db_table": "rag_log_hourly_count",
            "indexes": [models.Index(fields=["hour"], name="rag_loghc_hour")],
        },
    ),
    migrations.CreateModel(
        name="SystemLog",
        fields=[
            _pk("log_file", "line_number"),
            ("line_number", models.BigIntegerField()),
            ("ip", models.CharField(max_length=64)),
            ("timestamp", models.DateTimeField()),
            ("method", models.CharField(blank=True, max_length=16)),
            ("path", models.TextField(blank=True)),
            ("protocol", models.CharField(blank=True, max_length=16)),
            ("status", models.SmallIntegerField()),
            ("size", models.BigIntegerField(null=True)),
            ("referer", models.TextField(blank=True)),
            ("user_agent", models.TextField(blank=True)),
            ("response_time_ms", models.IntegerField(null=True)),
            _log_file_fk(),
        ],
        options={
            "db_table": "rag_system_log",
            "indexes": [models.Index(fields=["timestamp"], name="rag_syslog_ts")],
        },
    ),
]


class Migration(migrations.Migration):
    initial = True

    # The tables exist once rag's second migration has run.
    dependencies = [("rag", "0002_syslog_btree_timestamp")]

    operations = [migrations.SeparateDatabaseAndState(state_operations=STATE, database_operations=[])]
