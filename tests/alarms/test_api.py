"""The alarm API: filters, grouped view, acknowledgement, rules and silences (staff change them)."""

import pytest

from alarms.models import Alarm, AlarmRule, Silence
from telemetry.services import RawMessage, readings_ingest
from tests.alarms.conftest import T0, exhaust_rule, turbine_message

pytestmark = pytest.mark.django_db


def store(*messages):
    return readings_ingest(messages=[RawMessage(topic, body) for topic, body in messages]).hooks.get("alarms")


@pytest.fixture
def site_outage(rules):
    """Five turbines breaching at WY-ALPHA, one at TX-EAGLE (major); one critical state alarm."""
    exhaust_rule(rules, for_s=0)
    rules(name="critical", kind="state", states="CRITICAL", severity="critical")
    store(
        *[turbine_message(0, 600, device_id=f"TURB-{n}") for n in range(5)],
        turbine_message(0, 600, device_id="TURB-9", site_id="TX-EAGLE", state="CRITICAL"),
    )


def test_the_list_puts_active_and_severe_first_and_filters(api_client, site_outage):
    body = api_client.get("/api/alarms").json()
    assert body["count"] == 7
    assert body["results"][0]["severity"] == "critical"
    assert api_client.get("/api/alarms", {"site_id": "TX-EAGLE"}).json()["count"] == 2
    assert api_client.get("/api/alarms", {"severity": "critical"}).json()["count"] == 1
    assert api_client.get("/api/alarms", {"state": "active_unack"}).json()["count"] == 7
    assert api_client.get("/api/alarms", {"state": "cleared"}).json()["count"] == 0


def test_the_grouped_view_makes_a_site_wide_failure_one_row(api_client, site_outage):
    rows = api_client.get("/api/alarms", {"group": "site_rule"}).json()["results"]
    wy = [r for r in rows if r["site_id"] == "WY-ALPHA"]
    assert len(rows) == 3 and len(wy) == 1 and wy[0]["active"] == 5 and wy[0]["unacknowledged"] == 5
    assert rows[0]["severity"] == "critical"


def test_bad_filters_are_a_400_with_a_message(api_client, site_outage):
    for query in ({"severity": "loud"}, {"state": "x"}, {"site_id": "a b"}, {"page_size": 0}):
        response = api_client.get("/api/alarms", query)
        assert response.status_code == 400 and "error" in response.json(), query


def test_only_staff_acknowledge_and_only_once(api_client, staff_client, site_outage):
    alarm = Alarm.objects.first()
    assert api_client.post(f"/api/alarms/{alarm.pk}/ack", {}, format="json").status_code == 403
    assert staff_client.post(f"/api/alarms/{alarm.pk}/ack", {"comment": "seen"}, format="json").status_code == 200
    again = staff_client.post(f"/api/alarms/{alarm.pk}/ack", {}, format="json")
    assert again.status_code == 409 and "already acknowledged" in again.json()["error"]
    assert staff_client.post("/api/alarms/999999/ack", {}, format="json").status_code == 404
    detail = api_client.get(f"/api/alarms/{alarm.pk}").json()
    assert [t["action"] for t in detail["transitions"]] == ["raised", "acknowledged"]


def test_rules_are_validated_and_changed_by_staff_only(api_client, staff_client, rules):
    rule = {
        "name": "rpm",
        "device_type": "turbine",
        "kind": "metric",
        "metric": "rpm",
        "operator": "outside",
        "low": 3000,
        "high": 3700,
        "hysteresis": 50,
        "for_s": 30,
        "severity": "warning",
    }
    assert api_client.post("/api/alarm-rules", rule, format="json").status_code == 403
    assert staff_client.post("/api/alarm-rules", {**rule, "metric": "nope"}, format="json").status_code == 400
    assert staff_client.post("/api/alarm-rules", {**rule, "low": 4000}, format="json").status_code == 400
    assert staff_client.post("/api/alarm-rules", {**rule, "device_type": "toaster"}, format="json").status_code == 400
    created = staff_client.post("/api/alarm-rules", rule, format="json")
    assert created.status_code == 201, created.content
    assert staff_client.patch(f"/api/alarm-rules/{created.json()['id']}", {"enabled": False}, format="json").status_code == 200
    assert AlarmRule.objects.get(name="rpm").enabled is False
    assert api_client.get("/api/alarm-rules").json()["count"] == 1


def test_staff_silence_a_site_for_a_period_with_a_reason(api_client, staff_client, staff_user, db):
    silence = {
        "site_id": "WY-ALPHA",
        "starts_at": T0.isoformat(),
        "ends_at": T0.replace(year=T0.year + 1).isoformat(),
        "reason": "turnaround",
    }
    assert api_client.post("/api/silences", silence, format="json").status_code == 403
    assert staff_client.post("/api/silences", {**silence, "ends_at": "1960-01-01T00:00:00Z"}, format="json").status_code == 400
    assert staff_client.post("/api/silences", {**silence, "site_id": ""}, format="json").status_code == 400
    created = staff_client.post("/api/silences", silence, format="json")
    assert created.status_code == 201, created.content
    assert Silence.objects.get().created_by == staff_user
    assert api_client.get("/api/silences").json()["results"][0]["reason"] == "turnaround"


@pytest.mark.parametrize("multiprocess", [False, True], ids=["one-process", "web-workers"])
def test_prometheus_shows_active_alarms_per_severity_and_site(
    client, staff_user, site_outage, multiprocess, monkeypatch, tmp_path
):
    if multiprocess:  # as run_web serves it: the workers' shared folder
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    client.force_login(staff_user)
    text = client.get("/metrics").content.decode()
    assert 'tier0_alarms_active{severity="major",site="WY-ALPHA"} 5.0' in text
    assert 'tier0_alarms_active{severity="critical",site="TX-EAGLE"} 1.0' in text
    assert text.count("# TYPE tier0_alarms_active gauge") == 1


def test_staff_acknowledge_alarms_in_the_admin(client, site_outage):
    from tests.factories import UserFactory

    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    ids = list(Alarm.objects.filter(site_id="WY-ALPHA").values_list("id", flat=True))
    response = client.post("/admin/alarms/alarm/", {"action": "acknowledge", "_selected_action": ids})
    assert response.status_code == 302
    assert Alarm.objects.filter(acknowledged=True, acknowledged_by=admin).count() == 5
    assert client.get(f"/admin/alarms/alarm/{ids[0]}/change/").status_code == 200


def test_the_page_header_shows_active_alarms_per_severity(client, staff_user, site_outage):
    client.force_login(staff_user)
    html = client.get("/").content.decode()
    header = html[html.index('data-testid="alarm-header"') : html.index("</a>", html.index('data-testid="alarm-header"'))]
    assert 'data-severity="critical"><b>1</b> critical' in header
    assert 'data-severity="major"><b>6</b> major' in header
    assert 'sev-warning" data-severity="warning"><b>0</b> warning' in header  # none: not highlighted
