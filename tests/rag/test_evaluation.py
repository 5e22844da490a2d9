"""The evaluation sets: three unlike documents, each with a held-out part, and off-topic questions."""

from devtools.rag_eval import load_sets, locate


def test_every_document_is_found_where_its_source_puts_it():
    documents, _, _ = load_sets()
    assert set(documents) == {"bp", "brief", "gnuplot"}
    for key, spec in documents.items():
        assert locate(spec) is not None, f"{key} not found: run scripts/bootstrap.sh (it installs gnuplot-doc)"


def test_every_document_has_tuning_and_held_out_questions_and_routing_has_off_topic_ones():
    _, questions, routing = load_sets()
    for document in ("bp", "brief", "gnuplot"):
        splits = {q["split"] for q in questions if q["document"] == document}
        assert splits == {"tune", "held_out"}, document
    off_topic = [q for q in routing if q["type"] == "none"]
    assert len(off_topic) >= 8 and {q["split"] for q in off_topic} == {"tune", "held_out"}
