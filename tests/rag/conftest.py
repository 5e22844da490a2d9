"""Fixtures for the RAG tests: the bp report indexed once, generated logs, a Cohere stand-in."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from tests.rag.cohere_standin import CohereStandIn

REPORT = Path(settings.SEED_DATA_DIR) / "documents/bp-annual-report-and-form-20f-2024.pdf"
BRIEF = Path(settings.SEED_DATA_DIR) / "assignment/assignment-brief.pdf"
QUESTIONS = Path(__file__).with_name("bp_questions.json")


@pytest.fixture(scope="session")
def bp_report(django_db_setup, django_db_blocker):
    """The whole bp report, indexed once for the session (about 12 s) and removed at the end."""
    from rag.models import Document
    from rag.services import document_ingest

    if not REPORT.is_file():
        pytest.skip(f"seed report not found: {REPORT}")
    with django_db_blocker.unblock():
        result = document_ingest(path=REPORT)
        assert result.status in ("ingested", "unchanged"), result
    yield result
    with django_db_blocker.unblock():
        Document.objects.filter(pk=result.document_id).delete()


@pytest.fixture(scope="session")
def brief(django_db_setup, django_db_blocker):
    """The 5-page assignment brief, indexed once beside the report."""
    from rag.models import Document
    from rag.services import document_ingest

    if not BRIEF.is_file():
        pytest.skip(f"seed brief not found: {BRIEF}")
    with django_db_blocker.unblock():
        result = document_ingest(path=BRIEF)
        assert result.status in ("ingested", "unchanged"), result
    yield result
    with django_db_blocker.unblock():
        Document.objects.filter(pk=result.document_id).delete()


@pytest.fixture(scope="session")
def bp_questions():
    return json.loads(QUESTIONS.read_text())


@pytest.fixture
def cohere_standin():
    standin = CohereStandIn().start()
    yield standin
    standin.stop()


@pytest.fixture
def offline(settings):
    settings.COHERE_API_KEY = ""
    return settings


# The question tests ask about the same generated log the log tests use.
from tests.logs.conftest import logs  # noqa: E402, F401
