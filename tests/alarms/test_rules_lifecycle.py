"""A rule that stops running (disabled or deleted) never leaves its open alarms open forever."""

import pytest

from alarms.engine import RULES
from alarms.models import Alarm, AlarmRule, AlarmTransition, NotificationOutbox, Receiver, RuleState
from telemetry.services import RawMessage, readings_ingest
from tests.alarms.conftest import exhaust_rule, turbine_message

pytestmark = pytest.mark.django_db


def store(*messages):
    return readings_ingest(messages=[RawMessage(topic, body) for topic, body in messages]).hooks.get("alarms")


@pytest.fixture
def open_alarms(rules):
    """Three WY-ALPHA turbines breaching the exhaust rule (open alarms), a TX-EAGLE one with another rule's timer running."""
    rule = exhaust_rule(rules, for_s=0, site_id="WY-ALPHA")
    Receiver.objects.create(name="ops", email="ops@example.org")
    store(*[turbine_message(0, 600, device_id=f"TURB-{n}") for n in range(3)])
    slow = exhaust_rule(rules, name="slow", for_s=600)
    store(turbine_message(1, 600, device_id="TURB-9", site_id="TX-EAGLE"))
    assert Alarm.objects.filter(active=True).count() == 3
    return rule, slow


def test_disabling_a_rule_clears_its_open_alarms_with_the_reason_the_user_and_a_resolved_notification(
    staff_client, staff_user, open_alarms
):
    rule, slow = open_alarms
    response = staff_client.patch(f"/api/alarm-rules/{rule.pk}", {"enabled": False}, format="json")
    assert response.status_code == 200, response.content
    assert not Alarm.objects.filter(rule=rule, active=True).exists()
    cleared = AlarmTransition.objects.filter(action="cleared")
    assert cleared.count() == 3
    assert {(t.user, t.comment) for t in cleared} == {(staff_user, "rule disabled")}
    resolved = NotificationOutbox.objects.filter(event="resolved", status="pending")
    assert resolved.count() == 3 and {n.payload["alarm"]["status"] for n in resolved} == {"cleared_unack"}
    assert not RuleState.objects.filter(rule=rule).exists()  # no stale `for` timer when it is enabled again
    assert RuleState.objects.filter(rule=slow).exists()  # other rules untouched


def test_a_disabled_rule_enabled_again_starts_from_scratch(staff_client, open_alarms):
    rule, _slow = open_alarms
    staff_client.patch(f"/api/alarm-rules/{rule.pk}", {"enabled": False}, format="json")
    staff_client.patch(f"/api/alarm-rules/{rule.pk}", {"enabled": True}, format="json")
    RULES.reload()
    store(turbine_message(10, 610, device_id="TURB-0"))
    assert Alarm.objects.filter(rule=rule, active=True).count() == 1  # a new alarm, the old one stays cleared
    assert Alarm.objects.filter(rule=rule).count() == 4


def test_an_engine_with_a_stale_rule_cache_raises_nothing_for_a_disabled_rule(rules):
    rule = exhaust_rule(rules, for_s=0)  # the engine's cache holds it enabled
    AlarmRule.objects.filter(pk=rule.pk).update(enabled=False)  # disabled by another process, within the cache's TTL
    store(turbine_message(0, 600))
    assert not Alarm.objects.exists()


def test_a_rule_with_alarm_history_is_disabled_not_deleted(staff_client, open_alarms):
    rule, slow = open_alarms
    response = staff_client.delete(f"/api/alarm-rules/{rule.pk}")
    assert response.status_code == 409 and "disable it instead" in response.json()["error"]
    assert AlarmRule.objects.filter(pk=rule.pk).exists()
    assert staff_client.delete(f"/api/alarm-rules/{slow.pk}").status_code == 204  # no alarm yet: deleted
    assert not RuleState.objects.filter(rule_id=slow.pk).exists()


def test_disabling_a_rule_in_the_admin_clears_its_alarms_too(client, open_alarms):
    from tests.factories import UserFactory

    rule, _slow = open_alarms
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    form = {
        f: getattr(rule, f) if getattr(rule, f) is not None else ""
        for f in ("name", "device_type", "site_id", "device_id", "kind", "metric", "operator", "low", "high")
    }
    form.update(hysteresis=rule.hysteresis, states="", for_s=rule.for_s, severity=rule.severity)  # enabled unchecked
    response = client.post(f"/admin/alarms/alarmrule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert not Alarm.objects.filter(rule=rule, active=True).exists()
    assert set(AlarmTransition.objects.filter(action="cleared").values_list("user", "comment")) == {(admin.pk, "rule disabled")}
