"""API permissions and answers; /api/version follows the active region."""

import pytest

from failover.models import ActiveRegion, FailoverEvent

pytestmark = [pytest.mark.ha]


@pytest.mark.django_db
def test_anonymous_and_non_staff_cannot_trigger_a_failover(anon_client, api_client):
    assert anon_client.post("/api/failover/region2").status_code in (401, 403)
    assert api_client.post("/api/failover/region2").status_code == 403
    assert anon_client.get("/api/failover/status").status_code in (401, 403)


def test_status_and_history_for_users(ha, healthy, api_client):
    primary, replica = healthy
    status = api_client.get("/api/failover/status").json()
    roles = {n["region"]: n["role"] for n in status["nodes"]}
    assert roles == {primary: "primary", replica: "replica"}
    assert status["redis_master"] in ha.regions
    history = api_client.get("/api/failover/history").json()
    assert "results" in history


def test_staff_errors_are_clear_and_change_nothing(ha, healthy, staff_client):
    primary, _ = healthy
    response = staff_client.post("/api/failover/region9")
    assert response.status_code == 404 and "unknown region" in response.json()["error"]
    refused_before = FailoverEvent.objects.filter(status="refused").count()
    response = staff_client.post(f"/api/failover/{primary}")
    assert response.status_code == 409
    assert "already a primary" in response.json()["error"]
    assert response.json()["event"]["status"] == "refused"
    # Said once: recorded once, the error in the event only, not repeated in the failed step.
    assert FailoverEvent.objects.filter(status="refused").count() == refused_before + 1
    assert [s["detail"] for s in response.json()["event"]["steps"]] == [""]
    assert staff_client.get("/api/failover/status").json()["nodes"][0]["reachable"]


@pytest.mark.django_db
def test_version_reports_the_active_region(anon_client):
    assert anon_client.get("/api/version").json()["version"].endswith("_region1")
    ActiveRegion.objects.create(pk=ActiveRegion.SINGLETON_ID, region="region2")
    assert anon_client.get("/api/version").json()["version"] == "v1.0.0057_region2"
