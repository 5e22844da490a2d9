"""The notifier: signed webhooks retried with backoff, one delivery per key, emails, silences, resolved.

The same through MQTT, the consumer and the run_notifier process (and a notifier killed mid-send): test_notifications_e2e.py.
"""

import pytest
from django.core import mail

from alarms.models import Delivery, NotificationOutbox, Receiver
from alarms.notifier import deliver_due
from alarms.services import silence_create
from telemetry.services import RawMessage, readings_ingest
from tests.alarms.conftest import T0, exhaust_rule, turbine_message
from tests.alarms.receiver import WebhookReceiver
from tests.support.waiting import wait_until

SECRET = "s3cret-for-tests"


def deliver_until(predicate):
    """Run the notifier's rounds (as run_notifier does) until ``predicate`` holds."""
    return wait_until(lambda: deliver_due() >= 0 and predicate(), timeout=30)


def store(*messages):
    return readings_ingest(messages=[RawMessage(topic, body) for topic, body in messages]).hooks.get("alarms")


@pytest.fixture
def fast_retries(settings):
    settings.NOTIFIER_BACKOFF_FIRST_S = 0.05
    settings.NOTIFIER_BACKOFF_CAP_S = 0.2


@pytest.mark.django_db
def test_a_receiver_failing_three_times_then_recovering_gets_exactly_one_delivery(rules, fast_retries):
    exhaust_rule(rules, for_s=0)
    with WebhookReceiver(secret=SECRET, fail_first=3) as hook:
        Receiver.objects.create(name="ops", webhook_url=hook.url, secret=SECRET)
        store(turbine_message(0, 600))
        row = NotificationOutbox.objects.get()
        deliver_until(lambda: NotificationOutbox.objects.get().status == "sent")
        assert len(hook.requests) == 4 and hook.keys == {str(row.key)}  # three refusals, one success, one key
        assert all(r["signature_ok"] for r in hook.requests)
        assert list(Delivery.objects.values_list("ok", "status_code")) == [(False, 503)] * 3 + [(True, 200)]
        # Cleared: a resolved notification with a key of its own.
        store(turbine_message(5, 500))
        deliver_until(lambda: len(hook.keys) == 2)
        assert [r["event"] for r in hook.requests][-1] == "resolved"


@pytest.mark.django_db
def test_an_email_receiver_gets_routed_alarms_only(rules, fast_retries):
    exhaust_rule(rules, for_s=0, severity="warning")
    rules(name="critical", kind="state", states="CRITICAL", severity="critical")
    Receiver.objects.create(name="pager", email="oncall@example.org", min_severity="critical")
    Receiver.objects.create(name="texas", email="tx@example.org", sites="TX-EAGLE")
    store(turbine_message(0, 600, state="CRITICAL"))
    deliver_due()
    assert [m.to for m in mail.outbox] == [["oncall@example.org"]]
    assert "CRITICAL" in mail.outbox[0].subject and "TURB-1" in mail.outbox[0].subject


@pytest.mark.django_db
def test_a_silenced_site_records_its_alarms_and_sends_nothing(rules, staff_user):
    exhaust_rule(rules, for_s=0)
    silence_create(user=staff_user, reason="turnaround", site_id="WY-ALPHA", starts_at=T0, ends_at=T0.replace(year=T0.year + 1))
    with WebhookReceiver(secret=SECRET) as hook:
        Receiver.objects.create(name="ops", webhook_url=hook.url, secret=SECRET)
        store(turbine_message(0, 600), turbine_message(0, 600, device_id="TURB-9", site_id="TX-EAGLE"))
        assert deliver_due() == 1
        assert [r["body"]["alarm"]["site_id"] for r in hook.requests] == ["TX-EAGLE"]
        statuses = dict(NotificationOutbox.objects.values_list("alarm__site_id", "status"))
        assert statuses == {"WY-ALPHA": "silenced", "TX-EAGLE": "sent"}


def test_a_receiver_secret_may_come_from_the_environment(monkeypatch):
    from alarms.notifier import receiver_secret, signature

    monkeypatch.setenv("TIER0_TEST_HOOK_SECRET", "from-env")
    assert receiver_secret(Receiver(secret="env:TIER0_TEST_HOOK_SECRET")) == "from-env"
    assert receiver_secret(Receiver(secret="plain")) == "plain"
    # HMAC-SHA256("k", "{}"), as any receiver computes it.
    assert signature("k", b"{}") == "sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff"
