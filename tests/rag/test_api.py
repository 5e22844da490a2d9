"""HTTP API: /api/query, /api/logs, /api/logs/stats."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rag.logsim import generate_lines
from rag.services import log_file_ingest

END = datetime(2024, 10, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def logs(db, tmp_path):
    path = Path(tmp_path) / "api.log"
    lines = list(generate_lines(lines=3_000, seed=5, end=END, hours=3, ips=30))
    path.write_text("\n".join(lines) + "\n")
    log_file_ingest(path=path)
    return lines


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"question": ""}, {"question": "   "}, {"question": "x" * 1001}, {"question": 5}])
def test_query_rejects_bad_questions(api_client, body, offline):
    response = api_client.post("/api/query", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.django_db
def test_query_requires_authentication(anon_client):
    assert anon_client.post("/api/query", {"question": "hi"}, format="json").status_code in (401, 403)


@pytest.mark.django_db
def test_query_answers_log_questions(api_client, logs, offline):
    response = api_client.post("/api/query", {"question": "Which IPs generated the most 404 errors?"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "logs" and body["provider"] == "offline"
    expected = sum(1 for line in logs if '" 404 ' in line and line.startswith(body["data"]["rows"][0]["ip"] + " "))
    assert body["data"]["rows"][0]["requests"] == expected
    assert body["sources"][0]["query"].startswith("SELECT")


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
def test_bench_rag_runs_and_removes_its_rows(bp_report, capsys, offline):
    import json

    from django.core.management import call_command

    from rag.models import LogFile, SystemLog

    before = (LogFile.objects.count(), SystemLog.objects.count())
    call_command("bench_rag", "--json", "--log-lines", "5000", "--rounds", "1")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["log_lines"] == 5000 and result["ingest_lines_per_s"] > 0
    assert result["document_p95_ms"] > 0 and result["log_p95_ms"] > 0
    assert result["document_score"].split("/")[1] == str(result["document_questions"])
    assert (LogFile.objects.count(), SystemLog.objects.count()) == before
