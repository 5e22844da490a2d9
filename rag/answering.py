"""The question pipeline: classify, retrieve, answer offline, optionally synthesize.

Types: ``logs`` (exact SQL aggregates), ``documents`` (report passages),
``images`` (the imaging app's records), ``safety`` (documents plus images) and
``telemetry`` (the fleet's liveness and states) and ``none`` (no source has the evidence to answer; see
``rag.routing``).
The offline answer is extractive: it quotes the sentence or table row that
holds the figure asked for, with its page. When Cohere is configured it
rewrites the answer from the same sources; on any failure the offline answer
stands and ``data.fallback`` says why.
"""

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from imaging.selectors import images_answer_question
from logs.questions import answer_log_question
from rag.providers import ProviderUnavailable, configured_provider
from rag.retrieval import question_years, retrieve, unmatched_words
from rag.routing import Evidence, decide, document_evidence, image_evidence, log_evidence, telemetry_evidence
from rag.scoring import FIGURE_RE, is_quantitative, rank_units
from rag.units import row_value
from telemetry.selectors import site_summary

logger = logging.getLogger(__name__)

QUOTES = 3  # units quoted in an answer at most
QUOTE_GAP = 3.5  # a further unit is quoted only when it scores within this of the best one
QUOTE_GAP_QUANTITY = 4.0  # ... wider for a quantity question: a second figure often helps


class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long)."""


@dataclass
class Routed:
    """The router's decision with what it found on the way (document candidates are reused by the answer)."""

    kind: str
    evidence: list
    hits: list
    ranked: list


def route(question: str) -> Routed:
    """Ask every source for its evidence (see ``rag.routing``) and pick the answer type."""
    others = [log_evidence(question), image_evidence(question), telemetry_evidence(question)]
    logs, images, telemetry = others
    if logs.score == 1.0 or telemetry.score == 1.0 or (images.score == 1.0 and images.shaped):
        # Documents cannot beat full evidence (ties go to the source whose own data is asked about): skip them.
        skipped = Evidence("documents", 0.0, missing=list(logs.missing))
        return Routed(decide([skipped, *others]), [skipped, *others], [], [])
    hits = retrieve(question)
    ranked = rank_units(question, hits) if hits else []
    evidence = [document_evidence(question, ranked), *others]
    return Routed(decide(evidence), evidence, hits, ranked)


def classify(question: str) -> str:
    return route(question).kind


def validate_question(question) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("question must be a non-empty string")
    question = " ".join(question.split())
    if len(question) > settings.RAG_MAX_QUESTION_CHARS:
        raise QuestionError(f"question is longer than {settings.RAG_MAX_QUESTION_CHARS} characters")
    return question


def answer_question(question: str, *, provider=None, use_configured: bool = True) -> dict:
    """The full answer: ``{answer, type, sources, data, synthesized, provider}``."""
    question = validate_question(question)
    if provider is None and use_configured:
        provider = configured_provider()
    routed = route(question)
    kind = routed.kind
    if kind == "logs":
        result = answer_log_question(question)
    elif kind == "images":
        result = _image_answer(question)
    elif kind == "telemetry":
        result = _telemetry_answer(question)
    elif kind == "none":
        result = _no_answer(routed.evidence)
    else:
        result = _document_answer(question, provider, routed)
        if kind == "safety":
            images = _image_answer(question)
            result["answer"] = f"{result['answer']}\n\nSite images: {images['answer']}"
            result["sources"] = result["sources"] + images["sources"]
            result["data"]["images"] = images["data"]
    result["type"] = kind
    result.setdefault("data", {})
    result["data"]["routing"] = {e.source: e.score for e in routed.evidence}
    result["synthesized"] = False
    result["provider"] = "offline"
    if provider is not None:
        try:
            result["answer"] = provider.chat(question=question, documents=_provider_documents(result))
            result["synthesized"] = True
            result["provider"] = provider.name
        except ProviderUnavailable as exc:
            logger.warning("answer provider unavailable, keeping the offline answer: %s", exc)
            result["data"]["fallback"] = str(exc)
    result.pop("_context", None)
    return result


def _image_answer(question: str) -> dict:
    try:
        with transaction.atomic():  # a savepoint, so a failure here leaves the request usable
            answer = images_answer_question(question)
    # Another app's failure must not take the document part of an answer down with it.
    except Exception as exc:  # noqa: BLE001 - logged and reported in data.image_error
        logger.warning("image records unavailable: %s", exc)
        return {
            "answer": "Image records could not be read right now, so site images were not searched.",
            "sources": [],
            "data": {"image_error": str(exc).splitlines()[0]},
        }
    return {
        "answer": answer.get("answer", ""),
        "sources": list(answer.get("sources", [])),
        "data": answer.get("data", {}),
    }


def _telemetry_answer(question: str) -> dict:
    """Fleet liveness and states from the telemetry app's per-site summary (a named site narrows it)."""
    sites = site_summary()
    named = [s for s in sites if s["site_id"].lower() in question.lower()]
    rows = named or sites
    total = sum(s["devices"] for s in rows)
    online = sum(s["online"] for s in rows)
    where = ", ".join(s["site_id"] for s in named) if named else f"all {len(sites)} sites"
    if not total:
        answer = f"No device has reported yet at {where} (start the simulator or point devices at the MQTT broker)."
    else:
        states = {state: sum(s.get(state, 0) for s in rows) for state in ("ok", "warn", "alert")}
        answer = (
            f"{where}: {online:,} of {total:,} devices online now ({total - online:,} offline); by last state: "
            + ", ".join(f"{n:,} {state.upper()}" for state, n in states.items())
            + "."
        )
    return {
        "answer": answer,
        "sources": [{"telemetry": "site summary", "sites": [s["site_id"] for s in rows]}],
        "data": {"sites": rows},
    }


def _no_answer(evidence: list) -> dict:
    """``type: "none"``: say what the data does not cover, with no sources."""
    missing = sorted({word for e in evidence for word in e.missing if all(word in other.missing for other in evidence)})
    gap = f" (none of them mentions: {', '.join(missing)})" if missing else " (its words appear only in passing)"
    return {
        "answer": (
            "I don't know: nothing in the indexed documents, the access logs, the site images or the device telemetry"
            " answers this question"
            f"{gap}. Ask about the content of an ingested document, the logs (top client IPs, error rates, response"
            " times, busiest paths) or the site images (workers, protective equipment, sites)."
        ),
        "sources": [],
        "data": {"uncovered_words": missing},
    }


def _document_answer(question: str, provider, routed: Routed) -> dict:
    hits, ranked, query_vector = routed.hits, routed.ranked, None
    if provider is not None:
        try:
            query_vector = provider.embed([question], input_type="search_query")[0]
        except ProviderUnavailable as exc:
            logger.warning("query embedding unavailable, full-text only: %s", exc)
        else:
            hits = retrieve(question, query_vector=query_vector)
            ranked = rank_units(question, hits) if hits else []
    if not hits:
        return {
            "answer": "No passage of the ingested documents matches this question (run ingest_documents first if none are loaded).",
            "sources": [],
            "data": {"passages_considered": 0},
        }
    quantitative = is_quantitative(question)
    chosen = []
    seen = set()
    for candidate in ranked:
        text = candidate.unit.display()
        if text in seen:
            continue
        if chosen and candidate.score < chosen[0].score - (QUOTE_GAP_QUANTITY if quantitative else QUOTE_GAP):
            break
        seen.add(text)
        chosen.append(candidate)
        if len(chosen) == QUOTES:
            break
    parts = []
    years = question_years(question)
    for i, c in enumerate(chosen):
        lead = f"{c.hit.document}, page {c.hit.page}" if i == 0 else f"Also page {c.hit.page}"
        value = row_value(c.unit, years[0]) if len(years) == 1 else None
        # For a table row, name the cell for the year asked (read from the row and its column header).
        suffix = f" ({years[0]}: {value})" if value else ""
        parts.append(f'{lead}: "{c.unit.display()}"{suffix}')
    answer = " ".join(parts)
    unknown = unmatched_words(question)
    if unknown:
        answer += f" (No indexed passage mentions: {', '.join(unknown)}.)"
    sources, listed = [], set()
    for c in chosen:
        sources.append({"document": c.hit.document, "page": c.hit.page, "snippet": c.unit.display()})
        listed.add(c.hit.passage_id)
    for hit in hits[:8]:
        if len(sources) >= 5:
            break
        if hit.passage_id not in listed:
            listed.add(hit.passage_id)
            sources.append({"document": hit.document, "page": hit.page, "snippet": _snippet(hit.text)})
    best = chosen[0]
    return {
        "answer": answer,
        "sources": sources,
        "data": {
            "passages_considered": len(hits),
            "best": {"page": best.hit.page, "kind": best.unit.kind, "score": round(best.score, 3)},
            "figures": FIGURE_RE.findall(best.unit.text)[:10],
            "retrieval": "full-text + vector" if query_vector is not None else "full-text",
        },
        "_context": [{"page": h.page, "document": h.document, "text": h.text[:800]} for h in hits[:5]],
    }


def _snippet(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _provider_documents(result: dict) -> list[dict]:
    """Sources as quoted data for the model; ``_context`` adds the top passages in full."""
    documents = []
    for i, source in enumerate(result.get("sources", [])):
        if "document" in source:
            data = {"title": source["document"], "page": str(source["page"]), "snippet": source["snippet"]}
        elif "query" in source:
            data = {"title": "SQL aggregate", "query": source["query"], "result": json.dumps(result.get("data", {}))[:4000]}
        elif "telemetry" in source:
            data = {"title": "device telemetry", "summary": json.dumps(result.get("data", {}))[:4000]}
        else:
            data = {"title": "image record", "record": json.dumps(source.get("image", source))[:2000]}
        documents.append({"id": f"source-{i}", "data": data})
    for i, passage in enumerate(result.pop("_context", [])):
        documents.append(
            {
                "id": f"passage-{i}",
                "data": {"title": passage["document"], "page": str(passage["page"]), "snippet": passage["text"]},
            }
        )
    if result.get("type") in ("images", "safety") or not documents:
        documents.append({"id": "offline-answer", "data": {"title": "extracted answer", "snippet": result["answer"]}})
    return documents
