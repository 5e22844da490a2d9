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

from rag.models import Passage
from rag.pdfparse import YEAR_RE, Unit, passage_units

logger = logging.getLogger(__name__)

STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "how",
        "many",
        "much",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "whether",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "as",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "we",
        "our",
        "us",
        "you",
        "your",
        "i",
        "me",
        "my",
        "he",
        "she",
        "his",
        "her",
        "not",
        "no",
        "yes",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "about",
        "over",
        "under",
        "between",
        "during",
        "per",
        "any",
        "all",
        "each",
        "some",
        "such",
        "more",
        "most",
        "less",
        "least",
        "very",
        "also",
        "only",
        "give",
        "show",
        "tell",
        "list",
        "describe",
        "explain",
        "report",
        "reported",
        "bp",
        "bp's",
        "company",
        "group",
        "occur",
        "occurred",
        "number",
        "year",
        "years",
        "during",
        "please",
        "did",
        "in",
        "2024",
        "end",
        "start",
        "beginning",
        "full",
        "december",
        "january",
        "date",
    ]
)
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
WORD_RE = re.compile(r"[a-z0-9][a-z0-9'’&-]*")
PAGE_REF_RE = re.compile(r"\bpages? \d+(?:-\d+)?", re.I)


# Words whose stem would collide with a different meaning ("capital employed" is not "employees").
STEM_KEEP = {"employed"}


def stem(word: str) -> str:
    """A light suffix stripper: operate/operating/operations -> operat, employee(s) -> employ."""
    word = word.strip("'’-").replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    if word.endswith("ss") or len(word) <= 4 or word in STEM_KEEP:
        return word
    for suffix, repl in (("ations", "at"), ("ation", "at"), ("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    stripped = word.rstrip("e")
    return stripped if len(stripped) >= 3 else word


SYNONYMS = {stem(k): [stem(v) for v in values] for k, values in _RAW_SYNONYMS.items()}


def terms(text: str) -> list[str]:
    return [stem(w) for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS and not YEAR_RE.match(w)]


def question_terms(question: str) -> list[str]:
    out: list[str] = []
    for term in terms(question):
        if term not in out:
            out.append(term)
        for synonym in SYNONYMS.get(term, []):
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


_idf_lock = threading.Lock()
_idf_cache: dict = {"key": None, "idf": {}, "n": 1, "acronyms": {}}


def _idf() -> tuple[dict, int]:
    """Inverse document frequency of stems over all passages (cached until passages change)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM rag_passage")
        key = cursor.fetchone()
    with _idf_lock:
        if _idf_cache["key"] != key:
            df: dict[str, int] = {}
            acronyms: dict[str, str] = {}
            postings: dict[str, list] = {}
            lengths: dict[int, int] = {}
            rows = Passage.objects.values_list("id", "heading", "text").iterator(chunk_size=2000)
            for pid, heading, text in rows:
                joined = f"{heading} {text}"
                counted: dict[str, int] = {}
                for term in terms(joined):
                    counted[term] = counted.get(term, 0) + 1
                lengths[pid] = sum(counted.values())
                for term, tf in counted.items():
                    df[term] = df.get(term, 0) + 1
                    postings.setdefault(term, []).append((pid, tf))
                for match in ACRONYM_RE.finditer(" ".join(joined.split())):
                    expansion = _expansion(match.group(1), match.group(2))
                    if expansion:
                        acronyms.setdefault(match.group(2), expansion)
            n = max(key[0], 1)
            _idf_cache.update(
                key=key,
                n=n,
                acronyms=acronyms,
                postings=postings,
                lengths=lengths,
                avg_length=(sum(lengths.values()) / len(lengths)) if lengths else 1.0,
                idf={t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()},
            )
        return _idf_cache["idf"], _idf_cache["n"]


def _expansion(words: str, acronym: str) -> str:
    """The words an acronym stands for, when their initials spell it ("process safety events (PSEs)")."""
    tokens = words.split()
    for size in range(len(acronym), 1, -1):
        tail = tokens[-size:] if size <= len(tokens) else []
        initials = "".join(t[0] for t in tail if t).upper()
        if tail and initials == acronym.upper()[: len(tail)] and len(tail) >= len(acronym) - 1:
            return " ".join(tail)
    return ""


def acronyms() -> dict[str, str]:
    _idf()
    return _idf_cache["acronyms"]


def _bm25(question: str, limit: int) -> list[tuple[int, float]]:
    """BM25 over the same passages (in memory): ranks rare terms the way ``ts_rank_cd`` cannot."""
    idf, _ = _idf()
    postings, lengths, avg = _idf_cache["postings"], _idf_cache["lengths"], _idf_cache["avg_length"]
    scores: dict[int, float] = {}
    for term, syns in _groups(question):
        for candidate, factor in [(term, 1.0)] + [(syn, 0.6) for syn in syns]:
            weight = idf.get(candidate, 0.0) * factor
            for pid, tf in postings.get(candidate, ()):
                norm = tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths[pid] / avg))
                scores[pid] = scores.get(pid, 0.0) + weight * norm
    return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]


def _fts(question_stems: list[str], raw_words: list[str], limit: int, *, tables_only: bool = False) -> list[tuple[int, float]]:
    words = sorted({re.sub(r"[^a-z0-9]", "", w) for w in raw_words + question_stems} - {""})
    if not words:
        return []
    query = " | ".join(words)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ts_rank_cd(search, q, 1) AS r FROM rag_passage, to_tsquery('english', %s) q"
            " WHERE search @@ q" + (" AND has_table" if tables_only else "") + " ORDER BY r DESC LIMIT %s",
            [query, limit],
        )
        return cursor.fetchall()


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
    stems = question_terms(question)
    raw_words = [w for w in WORD_RE.findall(question.lower()) if w not in STOPWORDS and not YEAR_RE.match(w)]
    fused: dict[int, float] = {}
    for position, (pid, _) in enumerate(_fts(stems, raw_words, limit)):
        fused[pid] = fused.get(pid, 0.0) + 1.0 / (20 + position)
    for position, (pid, _) in enumerate(_bm25(question, limit)):
        fused[pid] = fused.get(pid, 0.0) + 1.0 / (20 + position)
    if query_vector is not None:
        for position, (pid, _) in enumerate(_vector_ranking(query_vector, limit)):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (20 + position)
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
    idf, _ = _idf()
    out = []
    for word in WORD_RE.findall(question.lower()):
        if word in STOPWORDS or YEAR_RE.match(word) or len(word) < 3:
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
            out.append((term, set(SYNONYMS.get(term, []))))
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
        if token not in STOPWORDS:
            since_term = None if since_term is None or since_term >= 2 else since_term + 1
            since_figure = None if since_figure is None or since_figure >= 1 else since_figure + 1
    return False


def rank_units(question: str, hits: list[Hit]) -> list[ScoredUnit]:
    """Sentences and table rows of the candidates, best answer first."""
    idf, _ = _idf()
    groups = _groups(question)
    years = set(question_years(question))
    quantitative = _is_quantitative(question)
    default_idf = math.log(10)
    weights = [(t, syns, idf.get(t, default_idf)) for t, syns in groups]
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
