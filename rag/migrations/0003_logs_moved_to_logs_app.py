"""The log models now belong to the ``logs`` app: drop them from ``rag``'s state only.

No table is dropped: ``logs.0001_move_logs_from_rag`` took the same tables over.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rag", "0002_syslog_btree_timestamp"),
        ("logs", "0001_move_logs_from_rag"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SystemLog"),
                migrations.DeleteModel(name="LogHourlyCount"),
                migrations.DeleteModel(name="LogHourlyLatency"),
                migrations.DeleteModel(name="LogFile"),
            ],
            database_operations=[],
        )
    ]
