"""Rule evaluation on stored batches: `for` timers, hysteresis, state and silence rules, one open alarm."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alarms.models import Alarm, AlarmTransition, RuleState
from alarms.rules import BREACH, CLEAR, HOLD, Rule, breach_check, metric_verdict
from telemetry.liveness import devices_mark_offline
from telemetry.models import DeviceState
from telemetry.services import RawMessage, readings_ingest
from tests.alarms.conftest import exhaust_rule, turbine_message

pytestmark = pytest.mark.django_db


def store(*messages):
    """Store a batch as the consumer does and run the alarm hook on it."""
    result = readings_ingest(messages=[RawMessage(topic, body) for topic, body in messages])
    return result.hooks.get("alarms")


def test_hysteresis_bands():
    rule = Rule(1, "r", "turbine", "", "", "metric", "x", "outside", 10.0, 20.0, 2.0, frozenset(), 0.0, "major")
    assert [metric_verdict(rule, v) for v in (9.9, 11, 15, 19, 20.5)] == [BREACH, HOLD, CLEAR, HOLD, BREACH]


@pytest.mark.parametrize(("operator", "low", "high"), [("gt", None, 20.0), ("lt", 10.0, None), ("outside", 10.0, 20.0)])
def test_the_hot_paths_breach_check_agrees_with_the_verdict(operator, low, high):
    rule = Rule(1, "r", "turbine", "", "", "metric", "x", operator, low, high, 2.0, frozenset(), 0.0, "major")
    check = breach_check(rule)
    for value in (-5, 9.99, 10, 10.5, 15, 19.5, 20, 20.01, 25, 3000):
        assert check(None, {"x": value}) == (metric_verdict(rule, value) == BREACH), value
    assert not check(None, {}) and not check(None, {"x": True}) and not check(None, {"x": "25"})


def test_a_breach_raises_one_alarm_only_after_it_held_for_the_duration(rules):
    rule = exhaust_rule(rules)
    store(turbine_message(0, 570), turbine_message(5, 575))
    assert not Alarm.objects.exists()  # held 5 s of 10
    assert RuleState.objects.get(rule=rule).breach_since is not None
    store(turbine_message(10, 580), turbine_message(15, 590))
    alarm = Alarm.objects.get()
    assert (alarm.active, alarm.count, alarm.last_value, alarm.severity) == (True, 2, 590.0, "major")
    assert alarm.first_at == alarm.last_at - timedelta(seconds=15)


def test_a_breach_that_ends_before_the_duration_raises_nothing(rules):
    exhaust_rule(rules)
    store(turbine_message(0, 570), turbine_message(5, 540), turbine_message(12, 570), turbine_message(20, 540))
    assert not Alarm.objects.exists()
    assert not RuleState.objects.exists()  # nothing left to remember


def test_a_value_bouncing_on_the_limit_does_not_flap(rules):
    exhaust_rule(rules, for_s=0)
    store(*[turbine_message(s, 561 if s % 2 else 555) for s in range(20)])
    alarm = Alarm.objects.get()
    assert alarm.active and alarm.count == 10
    assert list(alarm.transitions.values_list("action", flat=True)) == ["raised"]
    store(turbine_message(30, 549))
    alarm.refresh_from_db()
    assert not alarm.active and list(alarm.transitions.values_list("action", flat=True)) == ["raised", "cleared"]
    store(turbine_message(40, 565))
    assert Alarm.objects.filter(active=True).count() == 1 and Alarm.objects.count() == 2


def test_old_or_redelivered_readings_change_nothing(rules):
    exhaust_rule(rules, for_s=0)
    store(turbine_message(10, 570))
    store(turbine_message(10, 570), turbine_message(5, 540))
    alarm = Alarm.objects.get()
    assert alarm.active and alarm.count == 1


def test_a_state_rule_follows_the_reported_state(rules):
    rules(kind="state", states="ALERT,CRITICAL", severity="critical")
    store(turbine_message(0, 530, state="WARN"))
    assert not Alarm.objects.exists()
    store(turbine_message(1, 530, state="CRITICAL"))
    assert Alarm.objects.get().severity == "critical"
    store(turbine_message(2, 530, state="OK"))
    assert not Alarm.objects.get().active


def test_a_rule_for_one_site_ignores_the_others(rules):
    exhaust_rule(rules, for_s=0, site_id="TX-EAGLE")
    store(turbine_message(0, 600, site_id="WY-ALPHA"), turbine_message(0, 600, device_id="TURB-2", site_id="TX-EAGLE"))
    assert list(Alarm.objects.values_list("device_id", flat=True)) == ["TURB-2"]


def test_liveness_raises_the_silence_alarm_and_a_message_clears_it(rules, settings):
    settings.DEVICE_OFFLINE_AFTER_S = 60
    rules(kind="silence", severity="warning")
    store(turbine_message(0, 530))
    DeviceState.objects.update(last_seen=timezone.now() - timedelta(seconds=120))
    assert len(devices_mark_offline().devices) == 1
    alarm = Alarm.objects.get()
    assert alarm.active and alarm.detail.startswith("no message")
    assert devices_mark_offline().devices == [] and Alarm.objects.count() == 1
    store(turbine_message(1, 530))
    alarm.refresh_from_db()
    assert not alarm.active
    assert list(AlarmTransition.objects.values_list("action", flat=True)) == ["raised", "cleared"]


def test_the_process_totals_its_evaluation_and_logs_them_at_exit(rules, caplog):
    """bench_ingest --alarm-pairs reads this line from the consumer's log to show the rules were evaluated."""
    from alarms import engine

    exhaust_rule(rules)
    before = dict(engine.TOTALS)
    store(turbine_message(0, 500), turbine_message(1, 500, device_id="TURB-2"))
    assert engine.TOTALS["batches"] == before["batches"] + 1 and engine.TOTALS["readings"] == before["readings"] + 2
    assert engine.TOTALS["evaluations"] >= before["evaluations"] + 2 and engine.TOTALS["seconds"] > before["seconds"]
    with caplog.at_level("INFO", logger="alarms.engine"):
        engine._log_totals()
    (record,) = [r for r in caplog.records if r.getMessage() == "alarm evaluation totals"]
    assert record.readings == engine.TOTALS["readings"]
