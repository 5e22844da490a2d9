"""Notifications end to end: real MQTT traffic through the consumer, the real ``run_notifier`` process, a real webhook.

The alarms come from readings published to the project's Mosquitto and stored
by the ingest worker (its rules evaluated in the store transaction); the
notifier runs as the Procfile runs it; the receiver is an HTTP server on a free
loopback port that checks signatures and counts distinct idempotency keys.
"""

import subprocess
import sys

import pytest

from alarms.models import Delivery, NotificationOutbox, Receiver
from alarms.services import silence_create
from tests.alarms.conftest import T0, exhaust_rule, turbine_message
from tests.alarms.receiver import WebhookReceiver
from tests.support.mqtt import publish
from tests.support.waiting import wait_until
from tests.telemetry.conftest import REPO, subprocess_env, topic_prefix, worker_thread  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(180)]

SECRET = "s3cret-for-e2e"
NOTIFIER = [sys.executable, "manage.py", "run_notifier", "--interval", "0.1"]


@pytest.fixture
def consumer(worker_thread):  # noqa: F811
    """The ingest worker in a thread of this process, as in test_consumer_alarms."""
    return worker_thread(batch_size=50)


def notifier(**env) -> subprocess.Popen:
    fast = {"NOTIFIER_BACKOFF_FIRST_S": "0.05", "NOTIFIER_BACKOFF_CAP_S": "0.2", **env}
    return subprocess.Popen(NOTIFIER, cwd=REPO, env=subprocess_env(**fast), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603 - our own command


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.terminate()
    return process.wait(30)


def test_a_silenced_site_sends_nothing_and_a_receiver_failing_three_times_gets_exactly_one_delivery(consumer, rules, staff_user):
    exhaust_rule(rules, for_s=0)
    silence_create(user=staff_user, reason="turnaround", site_id="WY-ALPHA", starts_at=T0, ends_at=T0.replace(year=T0.year + 1))
    with WebhookReceiver(secret=SECRET, fail_first=3) as hook:
        Receiver.objects.create(name="ops", webhook_url=hook.url, secret=SECRET)
        sender = notifier()
        try:
            publish(
                [
                    turbine_message(0, 600, device_id="TURB-1", site_id="WY-ALPHA"),
                    turbine_message(0, 600, device_id="TURB-9", site_id="TX-EAGLE"),
                ]
            )
            wait_until(lambda: NotificationOutbox.objects.filter(alarm__site_id="TX-EAGLE", status="sent").exists(), timeout=60)
        finally:
            assert stop(sender) == 0
        assert len(hook.requests) == 4 and len(hook.keys) == 1  # three refusals, one success, one key
        assert all(r["signature_ok"] for r in hook.requests)
        assert {r["body"]["alarm"]["site_id"] for r in hook.requests} == {"TX-EAGLE"}
        assert dict(NotificationOutbox.objects.values_list("alarm__site_id", "status")) == {
            "WY-ALPHA": "silenced",
            "TX-EAGLE": "sent",
        }
        assert list(Delivery.objects.values_list("ok", flat=True)) == [False, False, False, True]


def test_a_notifier_killed_between_sending_and_recording_delivers_once_per_key(consumer, rules):
    exhaust_rule(rules, for_s=0)
    with WebhookReceiver(secret=SECRET) as hook:
        Receiver.objects.create(name="ops", webhook_url=hook.url, secret=SECRET)
        publish([turbine_message(0, 600)])
        wait_until(lambda: NotificationOutbox.objects.exists(), timeout=60)
        hook.release.clear()  # the receiver holds its answer: the notifier has sent and not recorded
        first = notifier()
        try:
            assert hook.received.wait(60), first.stderr.read1() if first.poll() is not None else "no request"
            first.kill()
            first.wait(10)
        finally:
            hook.release.set()
        assert NotificationOutbox.objects.get().status == "pending" and not Delivery.objects.exists()
        second = notifier()
        try:
            wait_until(lambda: NotificationOutbox.objects.get().status == "sent", timeout=60)
        finally:
            stop(second)
        assert len(hook.requests) == 2 and len(hook.keys) == 1  # sent twice, one idempotency key
        assert Delivery.objects.count() == 1
