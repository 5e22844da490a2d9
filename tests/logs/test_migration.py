"""Moving the log models from ``rag`` to ``logs`` keeps the rows of an existing database."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_MOVE = [("rag", "0002_syslog_btree_timestamp"), ("logs", None)]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_are_read_after_it():
    from logs.models import LogFile, SystemLog

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    _migrate(BEFORE_MOVE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO rag_log_file (path, sha256, size_bytes, lines_read, lines_stored, malformed, complete,"
                " created_at, updated_at) VALUES ('/old.log', 'old-digest', 10, 1, 1, 0, true, now(), now()) RETURNING id"
            )
            file_id = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO rag_system_log (log_file_id, line_number, ip, timestamp, method, path, protocol, status,"
                " referer, user_agent) VALUES (%s, 1, '10.0.0.1', now(), 'GET', '/', 'HTTP/1.1', 200, '', '')",
                [file_id],
            )
    finally:
        _migrate(latest)
    assert LogFile.objects.get(pk=file_id).path == "/old.log"
    assert SystemLog.objects.filter(log_file_id=file_id).values_list("ip", flat=True)[0] == "10.0.0.1"
