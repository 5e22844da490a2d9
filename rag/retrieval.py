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

from rag.lexicon import WORD_RE, YEAR_RE, corpus_key, idf_table, is_content_word, stem, stems, terms, warm
from rag.models import Passage
from rag.pdfparse import Unit, passage_units

logger = logging.getLogger(__name__)

RRF_K = 20  # reciprocal-rank fusion: a passage at position p of a ranking adds 1 / (RRF_K + p)
SYNONYM_WEIGHT = 0.6  # a synonym counts for this share of a question term's idf
RANK_LENGTH_NORMALISATION = 1  # ts_rank_cd: divide by 1 + log(passage length)
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
)
FIGURE_RE = re.compile(r"(?<![\w.])[$£€>~]?\d[\d,]*(?:\.\d+)?(?:%|bn|m\b|mmboe|gw|mt)?", re.I)
# Numbers that are names, not figures: "tier 1", "Scope 2", "Note 5", "page 14".
NAME_NUMBER_RE = re.compile(
    r"\b(?:tier|scope|note|notes|page|pages|phase|item|level|category|class|part|section|article|rule)s? \d+[a-z]?"
    r"(?:\s*(?:and|or|,|&|-)\s*\d+[a-z]?)*\b"
    r"|\b\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December)\b",
    re.I,
)
NUMBER_WORD_RE = re.compile(
    # Not inside compounds such as "one-to-one".
    r"(?<![-\w])(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand|million|billion)(?![-\w])",
    re.I,
)
CHANGE_Q_RE = re.compile(
    r"\b(increase|decrease|change|grow|growth|rise|raise|rose|fall|fell|drop|by how much|compared|versus|vs)\w*", re.I
)
CHANGE_UNIT_RE = re.compile(r"\b(?:increased|decreased|rose|fell|up|down|higher|lower|reduced) by\b", re.I)
ACRONYM_RE = re.compile(r"((?:[A-Za-z][\w-]*\s){1,6})\(([A-Z]{2,6})s?\)")
PAGE_REF_RE = re.compile(r"\bpages? \d+(?:-\d+)?", re.I)


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


@dataclass
class ScoredUnit:
    unit: Unit
    hit: Hit
    score: float


_acronym_lock = threading.Lock()
_acronym_cache: dict = {"key": None, "acronyms": {}}


def acronyms() -> dict[str, str]:
    """{acronym: expansion} defined anywhere in the passages ("process safety events (PSEs)"), cached."""
    key = corpus_key()
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


def _fts(lexemes: list[str], limit: int) -> list[tuple[int, float]]:
    """Passages holding any of ``lexemes`` (PostgreSQL stems, used as they are), by ``ts_rank_cd``."""
    if not lexemes:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ts_rank_cd(search, q, %s) AS r FROM rag_passage,"
            " (SELECT string_agg(quote_literal(x), ' | ')::tsquery AS q FROM unnest(%s::text[]) AS x) query"
            " WHERE search @@ q ORDER BY r DESC LIMIT %s",
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
    lexemes = question_terms(question)
    idf = idf_table()
    fused: dict[int, float] = {}
    _fuse(fused, _fts(lexemes, limit))
    weights: dict[str, float] = {}
    for term, syns in _groups(question):
        weights[term] = idf.get(term, UNSEEN_IDF)
        for syn in syns:
            weights.setdefault(syn, SYNONYM_WEIGHT * idf.get(syn, UNSEEN_IDF))
    _fuse(fused, _weighted_fts(weights, limit))
    if query_vector is not None:
        _fuse(fused, _vector_ranking(query_vector, limit))
    if not fused:
        return []
    fused = dict(sorted(fused.items(), key=lambda kv: -kv[1])[: limit + limit // 2])
    best = max(fused.values())
    rows = Passage.objects.filter(id__in=list(fused)).values_list("id", "document__title", "page", "heading", "text")
    hits = [Hit(pid, title, page, heading, text, rank=fused[pid] / best) for pid, title, page, heading, text in rows]
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


def _is_quantitative(question: str) -> bool:
    return bool(QUANTITY_RE.search(question.lower()))


def _figures(text: str, years: set[str], *, words: bool = False) -> list[str]:
    text = NAME_NUMBER_RE.sub(" ", PAGE_REF_RE.sub(" ", text))
    found = [f.rstrip(",") for f in FIGURE_RE.findall(text)]
    found = [f for f in found if f and f not in years and not YEAR_RE.match(f)]
    if words:
        found += NUMBER_WORD_RE.findall(text)
    return found


def _groups(question: str) -> list[tuple[str, set[str]]]:
    """Each direct question term with the synonyms that may stand in for it."""
    out: list[tuple[str, set[str]]] = []
    for term in terms(question):
        if all(term != t for t, _ in out):
            out.append((term, set(synonyms().get(term, []))))
    return out


def _is_figure(token: str, skip: set[str]) -> bool:
    token = token.rstrip(".")
    if token in skip or YEAR_RE.match(token):
        return False
    if FIGURE_RE.fullmatch(token) or NUMBER_WORD_RE.fullmatch(token):
        return True
    bare = re.sub(r"(?<=\d)[a-z]{1,2}$", "", token)  # footnote letter: "100,500c"
    return bare != token and bool(FIGURE_RE.fullmatch(bare))


def _proximity(tokens: list[str], matched: set[str], skip: set[str]) -> bool:
    """True when a figure sits next to a matched question term, after it ("shareholders was $0.4 billion")
    or before it ("96 oil spills", "100,500 people"), with at most two other content words between."""
    since_term = None  # content words since the last matched term
    since_figure = None  # content words since the last figure
    for raw in tokens:
        token = raw.strip(",;:()").lower()
        if not token:
            continue
        if stem(token) in matched:
            if since_figure is not None and since_figure <= 1:
                return True
            since_term, since_figure = 0, None
            continue
        if _is_figure(token, skip):
            if since_term is not None and since_term <= 2:
                return True
            since_figure = 0
            continue
        if is_content_word(token):
            since_term = None if since_term is None or since_term >= 2 else since_term + 1
            since_figure = None if since_figure is None or since_figure >= 1 else since_figure + 1
    return False


def rank_units(question: str, hits: list[Hit]) -> list[ScoredUnit]:
    """Sentences and table rows of the candidates, best answer first."""
    idf = idf_table()
    groups = _groups(question)
    years = set(question_years(question))
    quantitative = _is_quantitative(question)
    weights = [(t, syns, idf.get(t, UNSEEN_IDF)) for t, syns in groups]
    total_weight = sum(w for _, _, w in weights) or 1.0
    pairs = list(zip(groups, groups[1:], strict=False))
    expansions = acronyms()
    how_many = bool(re.search(r"\b(how many|number of|headcount|count of)\b", question, re.I))
    asks_rate = bool(re.search(r"\b(rate|ratio|frequency|per|percentage|percent|%)\b", question, re.I))
    asks_change = bool(CHANGE_Q_RE.search(question))
    scored: list[ScoredUnit] = []
    for hit in hits:
        hit.units = passage_units(hit.heading, hit.text)
        heading_terms = set(terms(hit.heading))
        previous_terms: set[str] = set()
        for unit in hit.units:
            searchable = unit.searchable()
            display = unit.display()
            for acronym in set(re.findall(r"\b([A-Z]{2,6})s?\b", searchable)):
                if acronym in expansions:
                    searchable += " " + expansions[acronym]
            unit_terms = terms(searchable)
            unit_set = set(unit_terms)
            overlap = 0.0
            matched: set[str] = set()
            for term, syns, weight in weights:
                if term in unit_set:
                    overlap += weight
                    matched.add(term)
                elif syns & unit_set:
                    overlap += 0.8 * weight
                    matched |= syns & unit_set
                elif term in heading_terms or term in previous_terms:
                    overlap += 0.3 * weight  # context: the heading, or the sentence just before
            adjacency = sum(1.0 for (a, sa), (b, sb) in pairs if _adjacent(unit_terms, {a} | sa, {b} | sb))
            score = overlap / total_weight * 10 + adjacency
            unit_years = set(re.findall(r"\b(?:19|20)\d\d\b", searchable))
            if years:
                if years & unit_years:
                    score += 1.5
                elif unit_years:
                    score -= 1.5
                elif any(y in hit.heading or y in hit.text[:200] for y in years):
                    score += 0.75  # "2024 at a glance" above a panel of bare figures
            figures = _figures(unit.text, years | unit_years)
            if how_many and not asks_rate:
                figures = [f for f in figures if not f.endswith("%")]  # a count, not a share
            if quantitative:
                if figures:
                    score += 2.0
                elif how_many and NUMBER_WORD_RE.search(unit.text):
                    score += 1.0  # "five severe vehicle accidents"
                else:
                    score -= 3.0
                # Acronyms count as their expansion when measuring closeness ("PSEs for 2024 was 38").
                for acronym, expansion in expansions.items():
                    if acronym in searchable and set(terms(expansion)) & matched:
                        matched.add(stem(acronym.lower()))
                if figures and _proximity(display.replace("(columns:", " ").split(), matched, years):
                    score += 1.0
                if len(figures) > 5 and len(unit.text) > 150 and unit.kind == "sentence":
                    score -= 1.5  # a table flattened into a "sentence"
            if how_many and not asks_rate and re.search(r"\b(rate|per|ratio|frequency)\b", unit.text, re.I):
                score -= 1.5
            if quantitative and not asks_change and len(figures) == 1 and CHANGE_UNIT_RE.search(unit.text):
                score -= 1.0  # only the change is given ("increased by $2.1 billion"), not the level
            length = len(unit.text)
            if length > 350:
                score -= (length - 350) / 150
            if length < 25 and unit.kind == "sentence":
                score -= 2.0
            score += 1.5 * hit.rank
            scored.append(ScoredUnit(unit, hit, score))
            previous_terms = unit_set
    scored.sort(key=lambda s: -s.score)
    return scored


def _adjacent(unit_terms: list[str], first: set[str], second: set[str]) -> bool:
    return any(unit_terms[i] in first and unit_terms[i + 1] in second for i in range(len(unit_terms) - 1))
