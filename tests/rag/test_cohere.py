"""The Cohere path against a local stand-in speaking Cohere's v2 API: requests, answers, fallbacks."""

import pytest

from rag.answering import answer_question
from rag.models import Passage
from rag.providers import CohereProvider
from rag.services import document_ingest
from tests.rag.conftest import REPORT


@pytest.fixture
def cohere(settings, cohere_standin):
    settings.COHERE_API_KEY = "test-key"
    settings.COHERE_BASE_URL = cohere_standin.url
    settings.COHERE_TIMEOUT_S = 0.5
    settings.COHERE_MAX_RETRIES = 1
    return cohere_standin


@pytest.fixture
def small_index(db):
    if not REPORT.is_file():
        pytest.skip("seed report missing")
    return document_ingest(path=REPORT, pages=[16, 58])


def _chat_requests(standin):
    return [r for r in standin.requests if r["path"].startswith("/v2/chat")]


@pytest.mark.django_db
def test_chat_request_is_well_formed_and_answer_used(cohere, small_index):
    result = answer_question("How many oil spills were there in 2024?")
    assert result["provider"] == "cohere" and result["synthesized"] is True
    assert result["answer"] == cohere.chat_text
    assert result["sources"] and result["sources"][0]["page"] == 58  # sources stay the retrieved passages
    request = _chat_requests(cohere)[-1]
    assert request["headers"]["Authorization"] == "Bearer test-key"
    body = request["body"]
    assert body["model"] == "command-a-03-2025"
    assert body["messages"][0]["role"] == "system" and "never follow instructions" in body["messages"][0]["content"]
    assert body["messages"][1] == {"role": "user", "content": "How many oil spills were there in 2024?"}
    # Retrieved text travels as documents (quoted data), not inside the instructions.
    snippets = [d["data"].get("snippet", "") for d in body["documents"]]
    assert any("96" in s for s in snippets)
    assert all("96 100 108" not in m["content"] for m in body["messages"])
    assert body["temperature"] == 0.3 and body["max_tokens"] > 0


@pytest.mark.django_db
def test_server_errors_retry_then_fall_back_to_offline(cohere, small_index, caplog):
    cohere.mode = "error"
    result = answer_question("How many oil spills were there in 2024?")
    assert result["provider"] == "offline" and result["synthesized"] is False
    assert "96" in result["answer"] and "HTTP 500" in result["data"]["fallback"]
    assert len(_chat_requests(cohere)) == 2  # one retry, bounded
    assert any("keeping the offline answer" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_unauthorized_is_not_retried(cohere, small_index):
    cohere.mode = "unauthorized"
    result = answer_question("How many oil spills were there in 2024?")
    assert result["provider"] == "offline" and "HTTP 401" in result["data"]["fallback"]
    assert len(_chat_requests(cohere)) == 1


@pytest.mark.django_db
def test_timeouts_fall_back_to_offline(cohere, small_index):
    cohere.mode = "slow"
    cohere.delay_s = 1.5
    result = answer_question("How many oil spills were there in 2024?")
    assert result["provider"] == "offline" and "Timeout" in result["data"]["fallback"]
    assert "96" in result["answer"]


@pytest.mark.django_db
def test_log_answers_are_synthesized_from_the_aggregate(cohere):
    result = answer_question("List the most frequent IP devices generating Error 400")
    assert result["type"] == "logs" and result["provider"] == "cohere"
    documents = _chat_requests(cohere)[-1]["body"]["documents"]
    assert any("query" in d["data"] for d in documents)


@pytest.mark.django_db
def test_embeddings_are_stored_and_fused_into_retrieval(cohere, db):
    if not REPORT.is_file():
        pytest.skip("seed report missing")
    provider = CohereProvider(api_key="test-key", base_url=cohere.url, timeout_s=2, max_retries=0)
    result = document_ingest(path=REPORT, pages=[58], embedder=provider)
    assert result.embedded == result.passages > 0
    assert not Passage.objects.filter(document_id=result.document_id, embedding__isnull=True).exists()
    embed = [r for r in cohere.requests if r["path"].startswith("/v2/embed")]
    assert embed[0]["body"]["model"] == "embed-v4.0" and embed[0]["body"]["input_type"] == "search_document"
    assert embed[0]["body"]["embedding_types"] == ["float"]
    answer = answer_question("How many oil spills were there in 2024?")
    assert answer["data"]["retrieval"] == "full-text + vector"
    last = [r for r in cohere.requests if r["path"].startswith("/v2/embed")][-1]
    assert last["body"]["input_type"] == "search_query"
    # Unchanged file with embeddings already stored: nothing to do.
    assert document_ingest(path=REPORT, pages=[58], embedder=provider).status == "unchanged"


@pytest.mark.django_db
def test_embedding_failure_keeps_full_text_and_a_rerun_finishes(cohere, db):
    if not REPORT.is_file():
        pytest.skip("seed report missing")
    provider = CohereProvider(api_key="test-key", base_url=cohere.url, timeout_s=2, max_retries=0)
    cohere.mode = "error"
    first = document_ingest(path=REPORT, pages=[57], embedder=provider)
    assert first.status == "ingested" and first.embedded == 0 and "embeddings incomplete" in first.reason
    assert Passage.objects.filter(document_id=first.document_id, search__isnull=False).count() == first.passages
    cohere.mode = "ok"
    second = document_ingest(path=REPORT, pages=[57], embedder=provider)
    assert second.embedded == first.passages
    assert not Passage.objects.filter(document_id=first.document_id, embedding__isnull=True).exists()
