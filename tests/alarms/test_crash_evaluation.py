"""A consumer killed right after acknowledging a batch has already evaluated it: no alarm is ever skipped.

The crash is real: with ``WORKER_CRASH_AT=after_ack`` the ``run_mqtt_consumer``
process aborts (SIGABRT) right after it committed and acknowledged a batch
holding ``WORKER_CRASH_ON_MARKER``, before anything that runs after the
acknowledgement (counters, live events). Rules are evaluated inside the
store's transaction, so the alarm is there anyway; evaluating after the
acknowledgement (the earlier design) lost it: the broker never hands the batch out again.
"""

import json
import signal

import pytest

from alarms.models import Alarm, AlarmTransition
from telemetry.models import TelemetryReading
from tests.alarms.conftest import exhaust_rule, turbine_message
from tests.support.mqtt import publish
from tests.support.waiting import wait_until
from tests.telemetry.conftest import consumer_process, topic_prefix  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

MARKER = "__crash_after_ack__"


def marked(topic: str, body: bytes) -> tuple[str, bytes]:
    payload = json.loads(body)
    payload["tags"] = {**(payload.get("tags") or {}), "note": MARKER}
    return topic, json.dumps(payload).encode()


def test_a_consumer_killed_after_acknowledging_a_batch_has_evaluated_it(consumer_process, rules, monkeypatch):  # noqa: F811
    exhaust_rule(rules, for_s=0)
    monkeypatch.setenv("WORKER_CRASH_ON_MARKER", MARKER)
    monkeypatch.setenv("WORKER_CRASH_AT", "after_ack")
    first = consumer_process("test-crash-after-ack")
    publish([marked(*turbine_message(0, 600))])
    assert first.process.wait(60) == -signal.SIGABRT, first.output()[-2000:]
    assert TelemetryReading.objects.count() == 1  # committed before the crash
    alarm = Alarm.objects.get()  # and evaluated in the same transaction
    assert alarm.active and alarm.last_value == 600.0
    assert list(AlarmTransition.objects.values_list("action", flat=True)) == ["raised"]

    # The restarted consumer carries on from there: the next reading clears it, nothing is raised twice
    # (should the acknowledgement not have left before the abort, the redelivered reading changes nothing).
    monkeypatch.delenv("WORKER_CRASH_ON_MARKER")
    second = consumer_process("test-crash-after-ack")
    publish([turbine_message(5, 500)])
    wait_until(lambda: not Alarm.objects.get().active, timeout=60)
    assert TelemetryReading.objects.count() == 2
    assert list(AlarmTransition.objects.values_list("action", flat=True)) == ["raised", "cleared"]
    assert second.stop() == 0
