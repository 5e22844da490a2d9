"""The reranker's words are PostgreSQL's: same stems and stop words as the full-text index."""

import pytest
from django.db import connection

from rag.lexicon import is_content_word, stem, terms

WORDS = ["employees", "employed", "operations", "operating", "incidents", "fatalities", "emissions", "the", "how", "co2"]


@pytest.mark.django_db
def test_stems_match_the_english_configuration():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT w, coalesce((tsvector_to_array(to_tsvector('english', w)))[1], '') FROM unnest(%s::text[]) w", [WORDS]
        )
        expected = dict(cursor.fetchall())
    assert {w: stem(w) for w in WORDS} == expected
    # "capital employed" is not about employees: PostgreSQL keeps the two apart.
    assert stem("employed") != stem("employees")


@pytest.mark.django_db
def test_request_and_stop_words_are_not_terms():
    assert terms("Please tell me how many oil spills there were in 2024") == [stem("oil"), stem("spills")]
    assert not is_content_word("the") and not is_content_word("describe") and is_content_word("turbine")
