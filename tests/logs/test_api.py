"""HTTP API: /api/logs, /api/logs/stats."""

import pytest


@pytest.mark.django_db
def test_logs_list_filters_and_paginates(api_client, logs):
    response = api_client.get("/api/logs", {"status": 404})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == sum(1 for line in logs if '" 404 ' in line)
    assert all(row["status"] == 404 for row in body["results"]) and len(body["results"]) <= 100
    ip = body["results"][0]["ip"]
    by_ip = api_client.get("/api/logs", {"ip": ip, "since": "2024-10-10T10:00:00Z"}).json()
    assert all(row["ip"] == ip and row["timestamp"] >= "2024-10-10T10:00:00Z" for row in by_ip["results"])
    assert api_client.get("/api/logs", {"status": "abc"}).status_code == 400
    bad_window = api_client.get("/api/logs", {"since": "2024-10-10T12:00:00Z", "until": "2024-10-10T10:00:00Z"})
    assert bad_window.status_code == 400 and "since" in bad_window.json()["error"]


@pytest.mark.django_db
def test_logs_stats(api_client, logs):
    response = api_client.get("/api/logs/stats", {"status_min": 500, "status_max": 599, "limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert len(body["top_ips"]) == 3
    assert body["errors"]["requests"] == len(logs)
    assert body["errors"]["server_errors_5xx"] == sum(
        1 for line in logs if '" 5' in line.split("]", 1)[1][:200] and _status(line) >= 500
    )
    assert body["latency_ms"]["p95"] >= body["latency_ms"]["p50"]


def _status(line: str) -> int:
    return int(line.split('" ', 1)[1].split(" ", 1)[0])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-31T23:30:00Z"},
        {"until": "0001-01-01T00:00:00Z"},
        {"since": "2024-13-45"},
        {"status": "99999999999999999999999"},
        {"limit": "1000000"},
        {"since": "2024-10-10T12:00:00Z", "until": "2024-10-10T10:00:00Z"},
    ],
)
def test_hostile_stats_parameters_answer_400_with_a_message(api_client, params):
    response = api_client.get("/api/logs/stats", params)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"since": "9999-12-31T23:30:00Z"}, {"ip": "1.2.3.4\x00"}, {"page": "10" * 12}])
def test_hostile_list_parameters_never_answer_500(api_client, params):
    response = api_client.get("/api/logs", params)
    assert response.status_code in (400, 404)
    assert response.json().get("error") or response.json().get("detail")
