"""bench_sessions removes its queue, rows and Redis key even when interrupted (SIGINT or SIGTERM)."""

import re
import signal
import subprocess
import sys

import pika
import pytest
from django.conf import settings

from sessions_app import amqp
from sessions_app.models import UserSession
from tests.sessions.helpers import queue_depth
from tests.support.processes import subprocess_env
from tests.support.waiting import wait_until


def _queue_exists(queue: str) -> bool:
    try:
        queue_depth(queue)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    return True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("interrupt", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_benchmark_leaves_no_queue_behind(interrupt, tmp_path):
    err_path = tmp_path / "bench.err"
    env = subprocess_env()
    with err_path.open("w") as err:
        bench = subprocess.Popen(  # our own manage.py
            [sys.executable, "manage.py", "bench_sessions", "--events", "50000", "--rate", "2000"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    try:
        found = wait_until(lambda: re.search(r"benchmark queue (\S+), marker (\S+)", err_path.read_text()), message="no queue")
        queue, marker = found.group(1), found.group(2)
        # Interrupted mid-run: events published and some stored, most still to come.
        wait_until(lambda: UserSession.objects.filter(site_id=marker).exists(), message="nothing stored")
        bench.send_signal(interrupt)
        bench.wait(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert not _queue_exists(queue), err_path.read_text()[-2000:]
    assert not _queue_exists(amqp.dead_letter_queue(queue))
    assert not UserSession.objects.filter(site_id=marker).exists()
