"""Passage retrieval and figure-aware reranking.

1. Full-text search: the question's terms (with a few domain synonyms) OR-ed
   into a ``tsquery``; passages ranked by ``ts_rank_cd`` over the GIN index.
2. When passages carry embeddings and an embedder is configured, the question's
   embedding ranks passages by cosine similarity; both rankings are fused with
   reciprocal-rank fusion.
3. Candidates are split into units (sentences and table rows) and reranked for
   the question: term overlap weighted by rarity, the year asked for, and
   whether the unit holds a figure when the question asks for one.
"""

import logging
import math
import re
import threading
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

from rag.lexicon import (
    WORD_RE,
    YEAR_RE,
    current_key,
    idf_table,
    is_content_word,
    named_documents,
    refresh,
    stem,
    stems,
    terms,
    warm,
)
from rag.models import Passage

logger = logging.getLogger(__name__)

CANDIDATES = 50  # passages whose sentences and rows are reranked (each ranking contributes its top ``limit``)
RRF_K = 20  # reciprocal-rank fusion: a passage at position p of a ranking adds 1 / (RRF_K + p)
SYNONYM_WEIGHT = 0.6  # a synonym counts for this share of a question term's idf
RANK_LENGTH_NORMALISATION = 1  # ts_rank_cd: divide by 1 + log(passage length)
UNNAMED_DOCUMENT_RANK = 0.5  # when the question names a document (or its year), the others' passages rank lower
UNSEEN_IDF = math.log(10)  # weight of a question term no passage holds

_RAW_SYNONYMS = {
    "incident": ["event", "injury", "spill"],
    "accident": ["event", "injury"],
    "staff": ["employee"],
    "workforce": ["employee"],
    "headcount": ["employee"],
    "people": ["employee"],
    "employee": ["people", "workforce"],
    "worker": ["employee", "workforce"],
    "work": ["employee", "workforce"],
    "earning": ["profit"],
    "income": ["profit"],
    "revenue": ["revenue", "sale"],
    "co2": ["emission", "ghg"],
    "carbon": ["emission", "ghg"],
    "greenhouse": ["ghg", "emission"],
    "capex": ["capital", "expenditure"],
    "payout": ["dividend"],
    "buyback": ["buy", "back"],
    "death": ["fatality"],
    "killed": ["fatality"],
    "died": ["fatality"],
    "output": ["production"],
    "produce": ["production"],
    "helmet": ["hat", "ppe"],
    "drill": ["drilling", "well"],
}
QUANTITY_RE = re.compile(
    r"\b(how many|how much|what (?:was|were|is|are) the (?:total|number|amount|value|level|rate|percentage|ratio|cost|price)"
    r"|number of|amount|percentage|percent|rate|ratio|total|figure|value|cost|price|profit|loss|debt|dividend|emissions?"
    r"|production|capacity|count|headcount|frequency|margin)\b"
    # "What was X in 2024?": the state of something in a given year is a value
    r"|^what (?:was|were|is|are)\b[^?]*\b(?:19|20)\d\d\b"
)
ACRONYM_RE = re.compile(r"((?:[A-Za-z][\w-]*\s){1,6})\(([A-Z]{2,6})s?\)")


_synonyms: dict[str, list[str]] = {}


def synonyms() -> dict[str, list[str]]:
    """The synonym table in PostgreSQL stems (looked up once)."""
    if not _synonyms:
        table = stems([*_RAW_SYNONYMS, *(v for values in _RAW_SYNONYMS.values() for v in values)])
        _synonyms.update({table[k]: [table[v] for v in values if table[v]] for k, values in _RAW_SYNONYMS.items()})
    return _synonyms


def question_terms(question: str) -> list[str]:
    out: list[str] = []
    for term in terms(question):
        if term not in out:
            out.append(term)
        for synonym in synonyms().get(term, []):
            if synonym not in out:
                out.append(synonym)
    return out


def question_years(question: str) -> list[str]:
    return re.findall(r"\b(?:19|20)\d\d\b", question)


@dataclass
class Hit:
    passage_id: int
    document: str
    page: int
    heading: str
    text: str
    rank: float = 0.0  # fused retrieval score, 0..1
    units: list = field(default_factory=list)
    document_id: int = 0


_acronym_lock = threading.Lock()
_acronym_cache: dict = {"key": None, "acronyms": {}}


def acronyms() -> dict[str, str]:
    """{acronym: expansion} defined anywhere in the passages ("process safety events (PSEs)"), cached."""
    key = current_key() or refresh()
    with _acronym_lock:
        if _acronym_cache["key"] != key:
            found: dict[str, str] = {}
            texts = []
            for heading, text in Passage.objects.values_list("heading", "text").iterator(chunk_size=2000):
                joined = f"{heading} {text}"
                texts.append(joined)
                for match in ACRONYM_RE.finditer(" ".join(joined.split())):
                    expansion = _expansion(match.group(1), match.group(2))
                    if expansion:
                        found.setdefault(match.group(2), expansion)
            warm(texts)  # every passage word's stem in one query, so answers never wait on lookups
            _acronym_cache.update(key=key, acronyms=found)
        return _acronym_cache["acronyms"]


def _expansion(words: str, acronym: str) -> str:
    """The words an acronym stands for, when their initials spell it ("process safety events (PSEs)")."""
    tokens = words.split()
    for size in range(len(acronym), 1, -1):
        tail = tokens[-size:] if size <= len(tokens) else []
        initials = "".join(t[0] for t in tail if t).upper()
        if tail and initials == acronym.upper()[: len(tail)] and len(tail) >= len(acronym) - 1:
            return " ".join(tail)
    return ""


def _fts(lexemes: list[str], limit: int, *, tables_only: bool = False) -> list[tuple[int, float]]:
    """Passages holding any of ``lexemes`` (PostgreSQL stems, used as they are), by ``ts_rank_cd``."""
    if not lexemes:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ts_rank_cd(search, q, %s) AS r FROM rag_passage,"  # noqa: S608 - constant clauses; the lexemes and limits are parameters
            " (SELECT string_agg(quote_literal(x), ' | ')::tsquery AS q FROM unnest(%s::text[]) AS x) query"
            " WHERE search @@ q" + (" AND has_table" if tables_only else "") + " ORDER BY r DESC LIMIT %s",
            [RANK_LENGTH_NORMALISATION, sorted(set(lexemes)), limit],
        )
        return cursor.fetchall()


def _weighted_fts(weights: dict[str, float], limit: int) -> list[tuple[int, float]]:
    """Passages by the sum over question terms of idf x ``ts_rank`` (term frequency over log length).

    The BM25 idea in PostgreSQL: a rare term counts for more than a common one, which ``ts_rank_cd`` over an
    OR query cannot express.
    """
    if not weights:
        return []
    lexemes = sorted(weights)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.id, sum(t.w * ts_rank(p.search, t.q, %s)) AS r FROM rag_passage p,"
            " (SELECT quote_literal(x)::tsquery AS q, w FROM unnest(%s::text[], %s::float8[]) AS u(x, w)) t"
            " WHERE p.search @@ t.q GROUP BY p.id ORDER BY r DESC LIMIT %s",
            [RANK_LENGTH_NORMALISATION, lexemes, [weights[x] for x in lexemes], limit],
        )
        return cursor.fetchall()


def _fuse(fused: dict[int, float], ranking: list[tuple[int, float]]) -> None:
    for position, (pid, _) in enumerate(ranking):
        fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + position)


_vector_cache: dict = {"key": None, "ids": None, "matrix": None}


def _vector_ranking(query_vector: list[float], limit: int) -> list[tuple[int, float]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM rag_passage WHERE embedding IS NOT NULL")
        key = cursor.fetchone()
    if not key[0]:
        return []
    if _vector_cache["key"] != key:
        rows = list(Passage.objects.filter(embedding__isnull=False).values_list("id", "embedding"))
        matrix = np.array([r[1] for r in rows], dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-9
        _vector_cache.update(key=key, ids=np.array([r[0] for r in rows]), matrix=matrix)
    q = np.asarray(query_vector, dtype=np.float32)
    q /= np.linalg.norm(q) + 1e-9
    sims = _vector_cache["matrix"] @ q
    top = np.argsort(-sims)[:limit]
    return [(int(_vector_cache["ids"][i]), float(sims[i])) for i in top]


def retrieve(question: str, *, limit: int = 50, query_vector: list[float] | None = None) -> list[Hit]:
    """Candidate passages, best first, fused from full-text and (optionally) vector rankings."""
    refresh()  # the one check per question that the passages have not changed
    lexemes = question_terms(question)
    idf = idf_table()
    fused: dict[int, float] = {}
    _fuse(fused, _fts(lexemes, limit))
    weights: dict[str, float] = {}
    for term, syns in question_groups(question):
        weights[term] = idf.get(term, UNSEEN_IDF)
        for syn in syns:
            weights.setdefault(syn, SYNONYM_WEIGHT * idf.get(syn, UNSEEN_IDF))
    _fuse(fused, _weighted_fts(weights, limit))
    if query_vector is not None:
        _fuse(fused, _vector_ranking(query_vector, limit))
    if not fused:
        return []
    fused = dict(sorted(fused.items(), key=lambda kv: -kv[1])[:CANDIDATES])
    best = max(fused.values())
    rows = Passage.objects.filter(id__in=list(fused)).values_list(
        "id", "document__title", "page", "heading", "text", "document_id"
    )
    hits = [
        Hit(pid, title, page, heading, text, rank=fused[pid] / best, document_id=doc)
        for pid, title, page, heading, text, doc in rows
    ]
    named = named_documents(question)
    if named and any(h.document_id in named for h in hits):
        for hit in hits:
            if hit.document_id not in named:
                hit.rank *= UNNAMED_DOCUMENT_RANK
    hits.sort(key=lambda h: -h.rank)
    return hits


def unmatched_words(question: str) -> list[str]:
    """Content words of the question that no passage contains (said plainly in the answer)."""
    idf = idf_table()
    out = []
    for word in WORD_RE.findall(question.lower()):
        if YEAR_RE.match(word) or len(word) < 3 or not is_content_word(word):
            continue
        if stem(word) not in idf and word not in out:
            out.append(word)
    return out


# Derivations the english stemmer keeps apart ("owns" -> own, "owners" -> owner; "placed" -> place, "placement").
DERIVATIONS = ("er", "or", "ment", "ion", "ation", "al", "ist", "ity", "ship")


def derived(term: str) -> set[str]:
    """Stems of the corpus that derive from ``term`` or that it derives from (they stand in as synonyms)."""
    if len(term) < 3 or not term.isalpha():
        return set()
    idf = idf_table()
    near = {term + suffix for suffix in DERIVATIONS}
    near |= {term[: -len(suffix)] for suffix in DERIVATIONS if term.endswith(suffix) and len(term) - len(suffix) >= 3}
    if len(term) >= 5:
        near |= {term + "e", term[:-1]} if term.endswith("e") else {term + "e"}  # employ, employe ("employee")
    return {stem for stem in near if stem in idf and stem != term}


def question_groups(question: str) -> list[tuple[str, set[str]]]:
    """Each direct question term with the synonyms that may stand in for it (listed ones and derivations)."""
    out: list[tuple[str, set[str]]] = []
    for term in terms(question):
        if all(term != t for t, _ in out):
            out.append((term, set(synonyms().get(term, [])) | derived(term)))
    return out
