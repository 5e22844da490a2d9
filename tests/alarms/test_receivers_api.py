"""Receivers through the API (staff only): routing by severity and site, the HMAC secret write-only."""

import pytest

from alarms.models import NotificationOutbox, Receiver
from telemetry.services import RawMessage, readings_ingest
from tests.alarms.conftest import exhaust_rule, turbine_message

pytestmark = pytest.mark.django_db

HOOK = {"name": "ops hook", "webhook_url": "http://127.0.0.1:9/hook", "secret": "k3y", "min_severity": "major"}


def test_only_staff_see_and_change_receivers(api_client, staff_client):
    assert api_client.get("/api/receivers").status_code == 403  # addresses are not for everyone
    assert api_client.post("/api/receivers", HOOK, format="json").status_code == 403
    created = staff_client.post("/api/receivers", HOOK, format="json")
    assert created.status_code == 201, created.content
    assert staff_client.get("/api/receivers").json()["count"] == 1
    pk = created.json()["id"]
    assert api_client.delete(f"/api/receivers/{pk}").status_code == 403
    assert staff_client.delete(f"/api/receivers/{pk}").status_code == 204


def test_the_secret_is_written_never_read(staff_client):
    created = staff_client.post("/api/receivers", HOOK, format="json").json()
    assert "secret" not in created and created["has_secret"] is True
    detail = staff_client.get(f"/api/receivers/{created['id']}").json()
    assert "secret" not in detail and "k3y" not in str(detail)
    # A change that does not name the secret keeps it; naming it replaces it.
    assert (
        staff_client.patch(f"/api/receivers/{created['id']}", {"sites": "WY-ALPHA, TX-EAGLE"}, format="json").status_code == 200
    )
    receiver = Receiver.objects.get()
    assert receiver.secret == "k3y" and receiver.sites == "WY-ALPHA,TX-EAGLE"
    staff_client.patch(f"/api/receivers/{created['id']}", {"secret": "env:OPS_HOOK_KEY"}, format="json")
    assert Receiver.objects.get().secret == "env:OPS_HOOK_KEY"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"webhook_url": "", "email": ""}, "non_field_errors"),
        ({"secret": ""}, "secret"),
        ({"min_severity": "loud"}, "min_severity"),
        ({"sites": "WY ALPHA"}, "sites"),
        ({"webhook_url": "not a url"}, "webhook_url"),
    ],
)
def test_bad_receivers_are_a_400_naming_the_field(staff_client, change, field):
    response = staff_client.post("/api/receivers", {**HOOK, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in str(response.json())


def test_routing_by_severity_and_site(staff_client, rules):
    exhaust_rule(rules, for_s=0, severity="warning")
    rules(name="critical", kind="state", states="CRITICAL", severity="critical")
    staff_client.post(
        "/api/receivers", {"name": "pager", "email": "oncall@example.org", "min_severity": "critical"}, format="json"
    )
    staff_client.post("/api/receivers", {"name": "texas", "email": "tx@example.org", "sites": "TX-EAGLE"}, format="json")
    messages = [
        turbine_message(0, 600, device_id="TURB-1", site_id="WY-ALPHA"),  # warning at WY-ALPHA: nobody
        turbine_message(0, 600, device_id="TURB-2", site_id="TX-EAGLE"),  # warning at TX-EAGLE: texas
        turbine_message(0, 530, device_id="TURB-3", site_id="WY-ALPHA", state="CRITICAL"),  # critical: pager
    ]
    readings_ingest(messages=[RawMessage(topic, body) for topic, body in messages])
    routed = {
        (n.receiver.name, n.alarm.device_id, n.alarm.severity)
        for n in NotificationOutbox.objects.select_related("alarm", "receiver")
    }
    assert routed == {("texas", "TURB-2", "warning"), ("pager", "TURB-3", "critical")}
