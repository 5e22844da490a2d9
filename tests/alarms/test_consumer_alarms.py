"""Alarms from real MQTT traffic: the project's Mosquitto, the ingest worker in a thread, PostgreSQL.

The worker evaluates the rules inside each stored batch's transaction (an
in-store hook); these tests only publish and wait on what lands in the database.
"""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.utils import timezone

from alarms.models import Alarm, AlarmTransition
from telemetry.models import DeviceState, TelemetryReading
from tests.alarms.conftest import exhaust_rule, turbine_message
from tests.support.mqtt import publish
from tests.support.waiting import wait_until
from tests.telemetry.conftest import topic_prefix, worker_thread  # noqa: F401 - fixtures
from tests.telemetry.test_consumer import redis_channel_layer  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def consumers(worker_thread):  # noqa: F811
    """Ingest workers in threads of this process (each its own database connection)."""
    return worker_thread


@pytest.fixture
def consumer(consumers):
    return consumers(batch_size=50)


def stored(count: int):
    return lambda: TelemetryReading.objects.count() >= count


def test_a_breach_held_for_the_duration_raises_one_alarm_not_one_per_message(consumer, rules):
    exhaust_rule(rules)  # > 560 for 10 s
    publish([turbine_message(s, 570 + s) for s in range(0, 8)])  # 7 s of breach: not yet
    wait_until(stored(8))
    assert not Alarm.objects.exists()
    publish([turbine_message(s, 570 + s) for s in range(8, 20)])
    wait_until(lambda: Alarm.objects.filter(count=10).exists())
    alarm = Alarm.objects.get()
    assert alarm.active and alarm.last_value == 589.0
    assert list(alarm.transitions.values_list("action", flat=True)) == ["raised"]


def test_a_value_oscillating_on_the_limit_does_not_flap(consumer, rules):
    exhaust_rule(rules, for_s=0)
    publish([turbine_message(s, 562 if s % 2 else 556) for s in range(30)])
    wait_until(stored(30))
    wait_until(lambda: Alarm.objects.filter(count=15).exists())
    assert AlarmTransition.objects.count() == 1
    publish([turbine_message(40, 540)])
    wait_until(lambda: Alarm.objects.filter(active=False).exists())
    assert list(AlarmTransition.objects.values_list("action", flat=True)) == ["raised", "cleared"]


def test_a_device_going_silent_raises_a_silence_alarm_that_clears_when_it_reports(consumer, rules, settings):
    settings.DEVICE_OFFLINE_AFTER_S = 60
    rules(kind="silence", severity="warning")
    publish([turbine_message(0, 530)])
    wait_until(stored(1))
    DeviceState.objects.update(last_seen=timezone.now() - timedelta(seconds=120))
    call_command("monitor_devices", "--once")  # the liveness round: "went silent"
    alarm = Alarm.objects.get()
    assert alarm.active and alarm.severity == "warning"
    publish([turbine_message(5, 530)])
    wait_until(lambda: not Alarm.objects.get().active)
    assert list(AlarmTransition.objects.values_list("action", flat=True)) == ["raised", "cleared"]


def test_acknowledgement_and_clearing_are_recorded_with_user_and_time(consumer, rules, staff_client, staff_user):
    exhaust_rule(rules, for_s=0)
    publish([turbine_message(0, 600)])
    alarm = wait_until(lambda: Alarm.objects.first())
    response = staff_client.post(f"/api/alarms/{alarm.pk}/ack", {"comment": "crew on the way"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active_ack"
    publish([turbine_message(5, 500)])
    wait_until(lambda: not Alarm.objects.get().active)
    history = list(AlarmTransition.objects.values_list("action", "user__username", "comment"))
    assert history == [("raised", None, ""), ("acknowledged", staff_user.username, "crew on the way"), ("cleared", None, "")]
    assert all(t.at is not None for t in AlarmTransition.objects.all())
    assert Alarm.objects.get().status == "cleared_ack"


def test_competing_consumers_share_one_devices_for_timer(consumers, rules):
    exhaust_rule(rules)  # > 560 for 10 s
    first, second = consumers(shared=True, batch_size=1), consumers(shared=True, batch_size=1)
    publish([turbine_message(s, 570) for s in range(0, 30)])
    wait_until(stored(30))
    wait_until(lambda: first.totals.batches + second.totals.batches >= 30)  # every batch evaluated
    assert first.totals.batches and second.totals.batches  # both consumers took part
    # One timer in PostgreSQL: one alarm, raised once (a reading that overtook an older one on the other
    # consumer makes the older one stale, so the count may be below 20, never a second alarm).
    alarm = wait_until(lambda: Alarm.objects.first())
    assert Alarm.objects.count() == 1 and alarm.active and AlarmTransition.objects.count() == 1


def test_the_dashboard_hears_of_new_alarms_with_the_active_counts_per_severity(consumer, rules, redis_channel_layer):  # noqa: F811
    layer = redis_channel_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("alarms", channel)
    exhaust_rule(rules, for_s=0)
    rules(name="critical", kind="state", states="CRITICAL", severity="critical")
    publish([turbine_message(0, 600, device_id="TURB-1"), turbine_message(0, 530, device_id="TURB-2", state="CRITICAL")])
    wait_until(lambda: Alarm.objects.count() == 2)
    raised, active = 0, None
    while active != {"critical": 1, "major": 1, "warning": 0}:  # one event, or two if the batch was split
        event = async_to_sync(asyncio.wait_for)(layer.receive(channel), 10)
        assert event["type"] == "alarms.update"
        raised, active = raised + event["raised"], event["active"]
    assert raised == 2
