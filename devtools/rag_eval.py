"""Evaluation of the question pipeline over unlike documents (used by ``bench_rag``).

Question sets live in ``tests/rag``: ``bp_questions.json`` (the report's tuning
set), ``eval_questions.json`` (the brief, the gnuplot manual from Debian's
``gnuplot-doc`` and held-out report questions, each marked ``tune`` or
``held_out``) and ``routing_questions.json`` (expected answer type, off-topic
questions included). An answer is right when it quotes an expected text, one
of its first three sources is an expected page, and its first source is the
expected document.
"""

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from rag.answering import answer_question, classify
from rag.models import Document
from rag.services import document_ingest

QUESTIONS_DIR = Path(settings.BASE_DIR) / "tests/rag"


def locate(spec: dict) -> Path | None:
    """Where a document of the evaluation is on this machine (seed data, or where its Debian package put it)."""
    if "seed" in spec:
        path = Path(settings.SEED_DATA_DIR) / spec["seed"]
        return path if path.is_file() else None
    path = Path(spec["path"])
    if path.is_file():
        return path
    if shutil.which("dpkg"):
        listed = subprocess.run(["dpkg", "-L", spec["debian_package"]], capture_output=True, text=True, check=False)  # noqa: S603, S607
        for line in listed.stdout.splitlines():
            if line.endswith(path.name) and Path(line).is_file():
                return Path(line)
    return None


def load_sets() -> tuple[dict, list[dict], list[dict]]:
    """(documents, document questions, routing questions)."""
    evaluation = json.loads((QUESTIONS_DIR / "eval_questions.json").read_text())
    bp = json.loads((QUESTIONS_DIR / "bp_questions.json").read_text())
    questions = [{**q, "document": "bp", "split": "tune"} for q in bp] + evaluation["questions"]
    routing = json.loads((QUESTIONS_DIR / "routing_questions.json").read_text())
    return evaluation["documents"], questions, routing


def ensure_documents(documents: dict) -> tuple[dict[str, str], list[int], list[str]]:
    """Index what is missing: ({key: indexed title}, ids this run created, keys not found on this machine)."""
    titles, created, missing = {}, [], []
    for key, spec in documents.items():
        path = locate(spec)
        if path is None:
            missing.append(key)
            continue
        before = set(Document.objects.values_list("id", flat=True))
        result = document_ingest(path=path)
        if result.document_id is None:
            missing.append(key)
            continue
        if result.document_id not in before:
            created.append(result.document_id)
        titles[key] = Document.objects.get(pk=result.document_id).title
    return titles, created, missing


def _right(item: dict, result: dict, title: str) -> bool:
    text = result["answer"].split("\n\nSite images:")[0]
    sources = [s for s in result["sources"] if "page" in s]
    pages = [s["page"] for s in sources][:3]
    return (
        bool(sources)
        and sources[0]["document"] == title
        and any(e in text for e in item["expect"])
        and any(p in item["pages"] for p in pages)
    )


@dataclass
class DocumentScores:
    counts: dict = field(default_factory=dict)  # (document, split) -> [right, asked]
    timings_ms: list = field(default_factory=list)
    misses: list = field(default_factory=list)


def score_documents(questions: list[dict], titles: dict[str, str], rounds: int = 1) -> DocumentScores:
    scores = DocumentScores()
    for round_number in range(rounds):
        for item in questions:
            if item["document"] not in titles:
                continue
            started = time.perf_counter()
            result = answer_question(item["question"], use_configured=False)
            scores.timings_ms.append((time.perf_counter() - started) * 1000)
            if round_number:
                continue
            tally = scores.counts.setdefault((item["document"], item["split"]), [0, 0])
            right = _right(item, result, titles[item["document"]])
            tally[0] += right
            tally[1] += 1
            if not right:
                scores.misses.append(item["question"])
    return scores


def per_document(scores: DocumentScores) -> dict:
    out: dict = {}
    for (document, split), (right, asked) in sorted(scores.counts.items()):
        out.setdefault(document, {})[split] = f"{right}/{asked}"
    return out


def score_routing(routing: list[dict]) -> dict:
    """Routing accuracy per split ("safety" counts as documents) and abstention precision and recall."""
    tally: dict = {}
    said_none = right_none = labelled_none = 0
    for item in routing:
        kind = classify(item["question"])
        ok = kind == item["type"] or (item["type"] == "documents" and kind == "safety")
        right, asked = tally.get(item["split"], (0, 0))
        tally[item["split"]] = (right + ok, asked + 1)
        said_none += kind == "none"
        labelled_none += item["type"] == "none"
        right_none += kind == "none" and item["type"] == "none"
    return {
        "routing": {split: f"{right}/{asked}" for split, (right, asked) in sorted(tally.items())},
        "abstention_precision": round(right_none / said_none, 3) if said_none else None,
        "abstention_recall": round(right_none / labelled_none, 3) if labelled_none else None,
    }
