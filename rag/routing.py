"""Route a question by what each source can answer, or abstain.

Every source (documents, logs, images, telemetry) reports its evidence as one number in 0..1: the share of the
question's topic words it holds, each word weighted by how rare it is in the
indexed documents (a word nothing holds weighs as the rarest). Documents report
their best sentence or table row; logs and images report how much of the
question their data describes (their vocabulary), plus the shapes of question
only they can answer (status codes and time windows for logs, site ids and
protective equipment for images). The most confident source answers; when none
reaches ``ABSTAIN_BELOW`` the answer is ``type: "none"``. The thresholds are
calibrated on ``tests/rag/routing_questions.json`` (tuning part only).
"""

import re
from dataclasses import dataclass, field

from django.db import connection

from logs.questions import LOG_VOCABULARY, log_question_shape
from rag.lexicon import document_names, idf_table, rarest_idf, terms
from rag.retrieval import question_groups
from rag.scoring import ScoredUnit, unquoted

ABSTAIN_BELOW = 0.55  # no source holds at least this share of the question: answer "none"
WITH_IMAGES_FROM = 0.5  # a document answer also lists site images when their evidence reaches this and holds a word it lacks
DOCUMENTS_ALONGSIDE_FROM = 0.35  # an image question without an image-only shape also quotes documents from this
TOPIC_SHARE = 0.01  # a one-word question's topic must be in this share of its document's passages ...
PASSING_MENTION = 0.5  # ... or the documents' evidence is scaled by this (a word in passing is not a topic)
SHAPE_BONUS = 0.35  # a question shape only one source answers (a status code, "last 2 hours", a site id)
SYNONYM_SHARE = 0.8  # a synonym holds this share of its term's weight
DOCUMENT_UNITS = 10  # the best-ranked units whose evidence is considered

# What the imaging app's records describe (see imaging.analysers): the camera, the people and their equipment,
# the device types and sites.
IMAGE_VOCABULARY = (
    "image images photo photos picture pictures camera cameras scan scanned shows view "
    "hard hat hats helmet helmets vest vests hi-vis reflective ppe goggles gloves protective equipment wearing "
    "worker workers engineer engineers technician person people crew tablet tablets clipboard handheld inspection "
    "compliance compliant non-compliant safety site sites turbine turbines rotor rotors electrical thermal engine engines "
    "oil gas rig field"
)
# What the telemetry tables describe: the fleet's devices, their liveness, state and readings.
TELEMETRY_VOCABULARY = (
    "device devices fleet online offline silent reporting connected concurrent live liveness telemetry reading readings "
    "metric metrics sensor sensors state states status ok warn warning alert alarm critical unknown healthy "
    "rpm temperature pressure vibration voltage current frequency flow"
)
TELEMETRY_SHAPE_RE = re.compile(
    r"\b(?:online|offline|silent|concurrent)\b|\bdevices? (?:are|is|were|in|at|per|by)\b|\bin (?:warn|alert|critical)\b", re.I
)
IMAGE_SHAPE_RE = re.compile(
    r"\b(?:without|wearing|no)\s+(?:a\s+|any\s+)?(?:hard\s*)?(?:hats?|helmets?|vests?)\b|\b[A-Z]{2}-[A-Z]{3,}\b"
    r"|\bsites?\s+(?:that|where|with)\b|\b(?:images?|photos?|pictures?)\s+(?:of|showing|with|that|where)\b"
)


@dataclass
class Evidence:
    source: str
    score: float
    held: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    shaped: bool = False  # the question has a shape only this source answers


def _weights(question: str) -> list[tuple[str, set[str], float]]:
    """(term, synonyms, weight) for the question's topic words; numbers and dates are shapes, not topics."""
    idf = idf_table()
    rarest = rarest_idf()
    return [(t, syns, idf.get(t, rarest)) for t, syns in question_groups(question) if not re.search(r"\d", t)]


def _coverage(source: str, weights, held_terms: set[str], *, synonyms: bool = True) -> Evidence:
    total = sum(w for _, _, w in weights)
    if not total:
        return Evidence(source, 0.0)
    got, held, missing = 0.0, [], []
    for term, syns, weight in weights:
        if term in held_terms:
            got += weight
            held.append(term)
        elif synonyms and syns & held_terms:
            got += SYNONYM_SHARE * weight
            held.append(term)
        else:
            missing.append(term)
    return Evidence(source, round(got / total, 3), held, missing)


def document_evidence(question: str, ranked: list[ScoredUnit]) -> Evidence:
    weights = _weights(question)
    best = Evidence("documents", 0.0, missing=[t for t, _, _ in weights])
    best_candidate = None
    for candidate in ranked[:DOCUMENT_UNITS]:
        held = set(terms(unquoted(candidate.unit.searchable()))) | set(terms(candidate.hit.heading))
        held |= document_names(candidate.hit.document_id)  # "... in the assignment" names the assignment brief
        evidence = _coverage("documents", weights, held)
        if evidence.score > best.score:
            best, best_candidate = evidence, candidate
    # One word held: judged as a one-word question (a word in passing is not a topic), unless the unit is the
    # unit about it (see ``_about``). A synonym held counts as the word ("workers": employees).
    if len(best.held) == 1 and best_candidate is not None and not _about(best.held[0], best_candidate):
        term = best.held[0]
        stems = ({term} | next(s for t, s, _ in weights if t == term)) & set(terms(best_candidate.unit.searchable()))
        if all(_passing_mention(stem, best_candidate.hit.document_id) for stem in stems or {term}):
            best.score = round(best.score * PASSING_MENTION, 3)
    return best


def _about(term: str, candidate: ScoredUnit) -> bool:
    """The unit is about the term: it names the table row ("Gearing (%) 22.7% 19.7%") or opens the sentence
    ("Gearing at the end of 2024 increased to 22.7%")."""
    unit = candidate.unit
    if unit.kind != "row":
        return term in terms(unit.text)[:2]
    label = unit.label + " " + re.sub(r"[\s(]*[-–$£€<>~(]?\d.*$", "", unit.text)
    return term in terms(label)


def _passing_mention(term: str, document_id: int) -> bool:
    """True when a one-word topic is in under ``TOPIC_SHARE`` of its document's passages: mentioned, not covered."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE search @@ quote_literal(%s)::tsquery), count(*) FROM rag_passage WHERE document_id = %s",
            [term, document_id],
        )
        holding, total = cursor.fetchone()
    return holding < TOPIC_SHARE * total


def _vocabulary_evidence(source: str, question: str, vocabulary: str, shaped: bool) -> Evidence:
    # No synonyms here: they link words of the documents' domain ("employees" ~ "people"), not of these records.
    evidence = _coverage(source, _weights(question), set(terms(vocabulary)), synonyms=False)
    evidence.shaped = shaped
    if shaped:
        evidence.score = round(min(1.0, evidence.score + SHAPE_BONUS), 3)
    return evidence


def log_evidence(question: str) -> Evidence:
    return _vocabulary_evidence("logs", question, LOG_VOCABULARY, log_question_shape(question))


def image_evidence(question: str) -> Evidence:
    return _vocabulary_evidence("images", question, IMAGE_VOCABULARY, bool(IMAGE_SHAPE_RE.search(question)))


def telemetry_evidence(question: str) -> Evidence:
    return _vocabulary_evidence("telemetry", question, TELEMETRY_VOCABULARY, bool(TELEMETRY_SHAPE_RE.search(question)))


def decide(evidence: list[Evidence]) -> str:
    """``documents``, ``safety`` (documents plus images), ``images``, ``logs``, ``telemetry`` or ``none``."""
    by_source = {e.source: e for e in evidence}
    # On a tie the source whose own data is asked about wins over a document describing it.
    order = {"logs": 0, "telemetry": 1, "images": 2, "documents": 3}
    best = max(evidence, key=lambda e: (e.score, -order[e.source]))
    if best.score < ABSTAIN_BELOW:
        return "none"
    images = by_source["images"]
    if best.source == "documents" and images.score >= WITH_IMAGES_FROM and set(images.held) & set(best.missing):
        return "safety"  # the images hold part of the question the documents do not
    if best.source == "images" and not best.shaped and by_source["documents"].score >= DOCUMENTS_ALONGSIDE_FROM:
        return "safety"  # "Describe drilling operations and hard hat requirements": both halves have something
    return best.source
