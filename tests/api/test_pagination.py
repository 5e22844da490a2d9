"""The one pagination of every list API: the same bounds, links and messages everywhere."""

import json

import pytest

from telemetry.services import RawMessage, readings_ingest
from tests.telemetry.conftest import reading_payload, recent, topic_for

pytestmark = pytest.mark.django_db

LISTS = ["/api/devices", "/api/users", "/api/images", "/api/dead-letters"]


@pytest.fixture
def devices():
    payloads = [reading_payload(device_id=f"TURB-{i}", timestamp_utc=recent(i)) for i in range(5)]
    readings_ingest(messages=[RawMessage(topic_for(p, "og/field"), json.dumps(p).encode()) for p in payloads])


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"page": "0"}, "Invalid filter page: Ensure this value is greater than or equal to 1."),
        ({"page": "100001"}, "Invalid filter page: Ensure this value is less than or equal to 100000."),
        ({"page_size": "1001"}, "Invalid filter page_size: Ensure this value is less than or equal to 1000."),
        ({"page_size": "ten"}, "Invalid filter page_size: A valid integer is required."),
    ],
)
def test_out_of_bounds_pages_are_refused_the_same_way_everywhere(staff_client, path, query, message):
    response = staff_client.get(path, query)
    assert response.status_code == 400
    assert response.json()["error"] == message


@pytest.mark.parametrize("path", ["/api/devices", "/api/users", "/api/dead-letters"])
def test_a_page_past_the_last_is_a_404_with_a_message(staff_client, devices, path):
    response = staff_client.get(path, {"page": "50"})
    assert response.status_code == 404
    assert response.json()["error"] == "Page 50 is past the last page (1)."


def test_links_carry_the_filters(api_client, devices):
    first = api_client.get("/api/devices", {"page_size": 2, "site_id": "WY-ALPHA"}).json()
    assert first["count"] == 5 and first["previous"] is None
    assert "site_id=WY-ALPHA" in first["next"] and "page=2" in first["next"]
    last = api_client.get(api_client.get(first["next"]).json()["next"]).json()
    assert len(last["results"]) == 1 and last["next"] is None and "page=2" in last["previous"]


@pytest.mark.parametrize(("value", "status"), [("true", 200), ("0", 200), ("yes", 200), ("tru", 400), ("2", 400), ("", 400)])
def test_boolean_filters_accept_booleans_and_refuse_typos(api_client, value, status):
    response = api_client.get("/api/images", {"has_hard_hat": value})
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"].startswith("Invalid parameter has_hard_hat")


def test_nul_in_a_body_free_request_is_refused_before_any_view(anon_client):
    response = anon_client.get("/api/version", {"x": "\x00"})
    assert response.status_code == 400 and "NUL" in response.json()["error"]
