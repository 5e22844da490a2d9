"""Real consumer processes: SIGKILL mid-stream, a database outage, SIGTERM.

These run ``manage.py run_rabbitmq_consumer`` as subprocesses pointed at the
test database (hence ``transactional_db``: the process must see committed
rows, and the test must see the process's).
"""

import signal
from datetime import timedelta

import psycopg
import pytest
from django.db import connection

from sessions_app.models import UserSession
from tests.sessions.helpers import T0, event, publish, queue_depth
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FINAL = ["active", "idle", "logout"]


def _session_stream(sessions: int, steps: int, prefix: str) -> tuple[list[dict], dict[str, tuple[str, object]]]:
    """Events of many sessions interleaved in time; with each session's expected final (status, time)."""
    messages, expected = [], {}
    for step in range(steps):
        for n in range(sessions):
            session_id = f"{prefix}-{n:05d}"
            at = T0 + timedelta(seconds=step, microseconds=n)
            if step == 0:
                kind = "login"
            elif step == steps - 1:
                kind = FINAL[n % 3]
            else:
                kind = "active"
            messages.append(event(session_id, kind, at, user_id=f"USR-{n:05d}"))
            status = {"login": "active", "active": "active", "idle": "idle", "logout": "disconnected"}[kind]
            expected[session_id] = (status, at)
    return messages, expected


def _admin(sql: str) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(sql)


def _assert_applied_exactly(expected: dict) -> None:
    rows = dict(
        (sid, (status, at))
        for sid, status, at in UserSession.objects.filter(session_id__in=expected).values_list(
            "session_id", "connection_status", "last_event_at"
        )
    )
    assert len(rows) == len(expected)
    wrong = {sid: (rows[sid], want) for sid, want in expected.items() if rows[sid] != want}
    assert not wrong, list(wrong.items())[:5]


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_consumer_stopped_mid_stream_and_restarted_applies_every_event_once(queue, sre_key, consumer_processes, stop_signal):
    messages, expected = _session_stream(sessions=600, steps=12, prefix="KILL")
    publish(queue, messages)
    first = consumer_processes(queue, sre_key, "--prefetch", "100", "--batch-size", "100")
    wait_until(lambda: UserSession.objects.filter(session_id__startswith="KILL").exists(), message="nothing stored")
    first.process.send_signal(stop_signal)
    code = first.process.wait(20)
    if stop_signal == signal.SIGTERM:
        # Finishes the batch in hand, acknowledges it, exits cleanly.
        assert code == 0, first.process.communicate()[1]
    left = queue_depth(queue)[0]
    assert 0 < left < len(messages), "the kill did not land mid-stream"

    second = consumer_processes(queue, sre_key, "--exit-when-idle", "1.5")
    out, err = second.process.communicate(timeout=60)  # it exits by itself once the queue is quiet
    code = second.process.returncode
    assert code == 0, err
    assert queue_depth(queue)[0] == 0
    _assert_applied_exactly(expected)
    assert "received" in out


def test_database_outage_loses_nothing_and_the_consumer_carries_on(queue, sre_key, consumer_processes):
    name = connection.settings_dict["NAME"]
    process = consumer_processes(queue, sre_key)
    process.wait_consuming(queue)
    before, expected_before = _session_stream(sessions=50, steps=2, prefix="PRE")
    publish(queue, before)
    wait_until(lambda: UserSession.objects.filter(session_id__startswith="PRE").count() == 50, message="first batch not stored")

    # The outage: no new connections to the test database and the worker's cut
    # (ALTER DATABASE has to come from another database).
    _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [name, f"tier0-test-consumer-{queue}"],
        )
        assert cursor.fetchone()[0] >= 1  # the consumer's connection was cut
    try:
        during, expected_during = _session_stream(sessions=300, steps=3, prefix="OUT")
        publish(queue, during)
        wait_until(lambda: queue_depth(queue)[0] == 0, message="consumer did not take the messages")
        # The consumer holds them unacknowledged while it cannot write.
        assert not UserSession.objects.filter(session_id__startswith="OUT").exists()
        assert process.process.poll() is None
    finally:
        _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    wait_until(
        lambda: UserSession.objects.filter(session_id__startswith="OUT").count() == 300, timeout=40, message="not recovered"
    )
    code, out, err = process.stop()
    assert code == 0, err
    _assert_applied_exactly(expected_before | expected_during)
    retries = int(out.rsplit("database retries", 1)[1].strip())
    assert retries >= 1
