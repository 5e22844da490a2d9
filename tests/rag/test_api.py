"""HTTP API: /api/query."""

import pytest


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
def test_bench_rag_runs_and_removes_its_rows(bp_report, capsys, offline):
    from rag.models import Document

    documents = Document.objects.count()
    import json

    from django.core.management import call_command

    from logs.models import LogFile, SystemLog

    before = (LogFile.objects.count(), SystemLog.objects.count())
    call_command("bench_rag", "--json", "--log-lines", "5000", "--rounds", "1")
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["log_lines"] == 5000 and result["ingest_lines_per_s"] > 0
    assert result["document_p95_ms"] > 0 and result["log_p95_ms"] > 0
    assert result["document_score"] == result["per_document"]["bp"]["tune"]
    assert set(result["per_document"]) == {"bp", "brief", "gnuplot"}
    assert all("held_out" in splits for splits in result["per_document"].values())
    assert set(result["routing"]) == {"tune", "held_out"} and result["abstention_precision"] is not None
    assert (LogFile.objects.count(), SystemLog.objects.count()) == before
    assert Document.objects.count() == documents  # what it had to ingest, it removed
