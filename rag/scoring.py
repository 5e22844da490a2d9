"""Rerank the units (sentences and table rows) of retrieved passages for a question.

A unit's score adds up evidence that it answers the question: how much of the
question's rarity-weighted terms it holds, question terms side by side, the year
asked for, and, for a question asking for a quantity, a figure next to the terms
it measures. Every weight is named in ``W``.
"""

import itertools
import re
from dataclasses import dataclass

from rag.lexicon import (
    WORD_RE,
    current_key,
    document_names,
    idf_table,
    is_content_word,
    named_documents,
    stem,
    terms,
)
from rag.pdfparse import YEAR_RE, numeric_tail
from rag.retrieval import QUANTITY_RE, UNSEEN_IDF, Hit, acronyms, question_groups, question_years
from rag.units import Unit, passage_units


@dataclass(frozen=True)
class Weights:
    term_scale: float = 10.0  # the weighted share of question terms held, 0..1, times this
    synonym: float = 0.8  # a synonym instead of the term itself
    context: float = 0.3  # the term is only in the heading or the sentence before
    adjacent_pair: float = 1.0  # per pair of consecutive question terms found side by side
    year_match: float = 1.5  # the unit names the year asked for
    year_other: float = -1.5  # the unit names only other years
    year_context: float = 0.75  # the year is in the passage's heading or opening ("2024 at a glance")
    figure: float = 2.0  # a quantity question and the unit holds a figure
    number_word: float = 1.0  # ... or a number word ("five severe vehicle accidents")
    no_figure: float = -3.0  # a quantity question and no figure at all
    figure_near_term: float = 1.0  # the figure sits next to a question term
    flattened_table: float = -1.5  # a "sentence" that is a table flattened (many figures, long)
    rate_for_count: float = -1.5  # a count asked, the unit gives a rate or ratio
    no_percent: float = -1.0  # a percentage asked, the unit has no percentage
    change_only: float = -1.0  # only the change is given ("increased by $2.1 billion"), not the level
    long_unit_chars: int = 350  # longer units lose one point per ...
    long_unit_step: float = 150.0  # ... this many characters beyond
    short_sentence_chars: int = 25  # shorter "sentences" are fragments
    short_sentence: float = -2.0
    retrieval_rank: float = 1.5  # times the passage's fused retrieval rank, 0..1
    named_exact: float = 1.0  # the question names a numbered thing ("Scope 1") and the unit names just that
    named_other: float = -1.5  # ... the unit names it with others or another one ("Scope 1 and 2", "Scope 3")
    breakdown: float = -1.0  # "Of these Scope 1 emissions, 31.4MtCO2e were ...": a part of the figure asked for
    named_document: float = 1.0  # the question names the unit's document ("in the assignment", by a title word)
    unlabeled_columns: float = -0.5  # a row of several values whose columns no header names ("32.8 31.1 30.4")
    legend: float = -1.0  # a chart's value labelled by its legend lines: prose or a table row says it better


W = Weights()

FIGURE_RE = re.compile(r"(?<![\w.])[$£€>~]?\d[\d,]*(?:\.\d+)?(?:%|bn|m\b|mmboe|gw|mt)?", re.I)
# Numbers that are names, not figures: "tier 1", "Scope 2", "Note 5", "page 14".
NAME_NUMBER_RE = re.compile(
    r"\b(?:tier|scope|note|notes|page|pages|phase|item|level|category|class|part|section|article|rule)s? \d+[a-z]?"
    r"(?:\s*(?:and|or|,|&|-)\s*\d+[a-z]?)*\b"
    r"|\b\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December)\b",
    re.I,
)
NAMED_RE = re.compile(
    r"\b(tier|scope|note|phase|item|level|category|class|part|section|article|rule|chapter|step|stage|type)s? \d+[a-z]?"
    r"(?:\s*(?:and|or|,|&|-|to)\s*(?:\1s? )?\d+[a-z]?)*\b",
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
# A quoted sentence of four words or more: an example question quoted by a brief or manual.
QUOTED_RE = re.compile(r"[“\"]([^”\"]{12,}?[.?!]?)[”\"]")
BREAKDOWN_RE = re.compile(r"^(?:of (?:these|this|which|those|that|them)|of the (?:total|above))\b", re.I)
PAGE_REF_RE = re.compile(r"\bpages? \d+(?:-\d+)?", re.I)


@dataclass
class ScoredUnit:
    unit: Unit
    hit: Hit
    score: float


def named_numbers(text: str) -> dict[str, frozenset[str]]:
    """{"scope": {"1", "2"}} for "Scope 1 and 2 emissions": the numbered things a text names."""
    found: dict[str, set[str]] = {}
    for match in NAMED_RE.finditer(text):
        found.setdefault(match.group(1).lower(), set()).update(re.findall(r"\d+", match.group()))
    return {word: frozenset(numbers) for word, numbers in found.items()}


def is_quantitative(question: str) -> bool:
    return bool(QUANTITY_RE.search(question.lower()))


def _figures(text: str, years: set[str], *, words: bool = False) -> list[str]:
    text = NAME_NUMBER_RE.sub(" ", PAGE_REF_RE.sub(" ", text))
    found = [f.rstrip(",") for f in FIGURE_RE.findall(text)]
    found = [f for f in found if f and f not in years and not YEAR_RE.match(f)]
    if words:
        found += NUMBER_WORD_RE.findall(text)
    return found


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
        word = token if WORD_RE.fullmatch(token) else None  # "shareholders." or "$0.4" are no dictionary words
        if word is not None and stem(word) in matched:
            if since_figure is not None and since_figure <= 1:
                return True
            since_term, since_figure = 0, None
            continue
        if _is_figure(token, skip):
            if since_term is not None and since_term <= 2:
                return True
            since_figure = 0
            continue
        if word is None or is_content_word(word):
            since_term = None if since_term is None or since_term >= 2 else since_term + 1
            since_figure = None if since_figure is None or since_figure >= 1 else since_figure + 1
    return False


@dataclass
class _Question:
    """What the scorer needs to know about a question, worked out once."""

    weights: list  # (term, synonyms, idf)
    total_weight: float
    pairs: list
    years: set
    quantitative: bool
    how_many: bool
    asks_rate: bool
    asks_change: bool
    asks_percent: bool
    expansions: dict
    expansion_terms: dict
    names: dict  # numbered things the question names
    documents: set  # documents the question names


def _read(question: str) -> _Question:
    idf = idf_table()
    expansions = acronyms()
    groups = question_groups(question)
    asked = {t for t, _ in groups} | {s for _, syns in groups for s in syns}
    weights = [(t, syns, idf.get(t, UNSEEN_IDF)) for t, syns in groups]
    return _Question(
        weights=weights,
        total_weight=sum(w for _, _, w in weights) or 1.0,
        pairs=list(itertools.pairwise(groups)),
        years=set(question_years(question)),
        quantitative=is_quantitative(question),
        how_many=bool(re.search(r"\b(how many|number of|headcount|count of)\b", question, re.I)),
        asks_rate=bool(re.search(r"\b(rate|ratio|frequency|per|percentage|percent|%)\b", question, re.I)),
        asks_change=bool(CHANGE_Q_RE.search(question)),
        asks_percent=bool(re.search(r"\b(percentage|percent|proportion)\b|%", question, re.I)),
        expansions=expansions,
        # Only acronyms whose expansion shares a word with the question can bring a figure closer to it.
        expansion_terms={a: ts for a, e in expansions.items() if (ts := set(terms(e))) & asked},
        names=named_numbers(question),
        documents=named_documents(question),
    )


def unquoted(text: str) -> str:
    """The text without quoted sentences: a passage that quotes a question as an example does not answer it."""
    return QUOTED_RE.sub(lambda m: " " if len(m.group(1).split()) >= 4 else m.group(0), text)


@dataclass(frozen=True)
class _Reading:
    """A unit as the scorer reads it, independent of the question (cached per passage)."""

    unit: Unit
    searchable: str  # with acronym expansions appended
    terms: tuple
    years: frozenset
    names: dict


_readings: dict = {"key": None, "by_passage": {}}
READING_CACHE_PASSAGES = 5000


def _read_passage(hit: Hit, expansions: dict) -> tuple[frozenset, list[_Reading]]:
    """(heading terms, readings of its units); rebuilt when the passages (and so the acronyms) change."""
    if _readings["key"] != current_key() or len(_readings["by_passage"]) > READING_CACHE_PASSAGES:
        _readings.update(key=current_key(), by_passage={})
    cached = _readings["by_passage"].get(hit.passage_id)
    if cached is None:
        readings = []
        for unit in passage_units(hit.heading, hit.text):
            searchable = unit.searchable()
            for acronym in set(re.findall(r"\b([A-Z]{2,6})s?\b", searchable)):
                if acronym in expansions:
                    searchable += " " + expansions[acronym]
            years = frozenset(re.findall(r"\b(?:19|20)\d\d\b", searchable))
            names = named_numbers(unit.searchable())
            readings.append(_Reading(unit, searchable, tuple(terms(unquoted(searchable))), years, names))
        cached = (frozenset(terms(hit.heading)), readings)
        _readings["by_passage"][hit.passage_id] = cached
    return cached


def rank_units(question: str, hits: list[Hit]) -> list[ScoredUnit]:
    """Sentences and table rows of the candidates, best answer first."""
    q = _read(question)
    scored: list[ScoredUnit] = []
    for hit in hits:
        heading_terms, readings = _read_passage(hit, q.expansions)
        hit.units = [r.unit for r in readings]
        previous_terms: set[str] = set()
        for reading in readings:
            unit_terms = list(reading.terms)
            # A word naming the unit's own document ("... in the assignment") is held by every unit of it.
            named = document_names(hit.document_id) if hit.document_id in q.documents else frozenset()
            score, matched = _term_score(q, unit_terms, heading_terms | previous_terms, named)
            score += _year_score(q, set(reading.years), hit)
            score += _figure_score(q, reading.unit, reading.searchable, set(reading.years), matched)
            score += _shape_score(reading.unit) + W.retrieval_rank * hit.rank + _name_score(q, reading)
            score += W.named_document if hit.document_id in q.documents else 0.0
            scored.append(ScoredUnit(reading.unit, hit, score))
            previous_terms = set(unit_terms)
    scored.sort(key=lambda s: -s.score)
    return scored


def _term_score(q: _Question, unit_terms: list[str], context: set[str], named=frozenset()) -> tuple[float, set[str]]:
    unit_set = set(unit_terms) | named
    overlap = 0.0
    matched: set[str] = set()
    for term, syns, weight in q.weights:
        if term in unit_set:
            overlap += weight
            matched.add(term)
        elif syns & unit_set:
            overlap += W.synonym * weight
            matched |= syns & unit_set
        elif term in context:
            overlap += W.context * weight
    adjacency = sum(W.adjacent_pair for (a, sa), (b, sb) in q.pairs if _adjacent(unit_terms, {a} | sa, {b} | sb))
    return overlap / q.total_weight * W.term_scale + adjacency, matched


def _year_score(q: _Question, unit_years: set[str], hit: Hit) -> float:
    if not q.years:
        return 0.0
    if q.years & unit_years:
        return W.year_match
    if unit_years:
        return W.year_other
    if any(y in hit.heading or y in hit.text[:200] for y in q.years):
        return W.year_context
    return 0.0


def _figure_score(q: _Question, unit: Unit, searchable: str, unit_years: set[str], matched: set[str]) -> float:
    figures = _figures(unit.text, q.years | unit_years)
    if q.how_many and not q.asks_rate:
        figures = [f for f in figures if not f.endswith("%")]  # a count, not a share
    score = 0.0
    if q.quantitative:
        if figures:
            score += W.figure
        elif q.how_many and NUMBER_WORD_RE.search(unit.text):
            score += W.number_word
        else:
            score += W.no_figure
        # Acronyms count as their expansion when measuring closeness ("PSEs for 2024 was 38").
        for acronym, expansion in q.expansion_terms.items():
            if acronym in searchable and expansion & matched:
                matched.add(stem(acronym.lower()))
        if figures and _proximity(unit.display().replace("(columns:", " ").split(), matched, q.years):
            score += W.figure_near_term
        if len(figures) > 5 and len(unit.text) > 150 and unit.kind == "sentence":
            score += W.flattened_table
    if q.asks_percent and not any(f.endswith("%") for f in figures):
        score += W.no_percent
    if q.how_many and not q.asks_rate and re.search(r"\b(rate|per|ratio|frequency)\b", unit.text, re.I):
        score += W.rate_for_count
    if q.quantitative and not q.asks_change and len(figures) == 1 and CHANGE_UNIT_RE.search(unit.text):
        score += W.change_only
    return score


def _name_score(q: _Question, reading: _Reading) -> float:
    score = W.legend if reading.unit.legend else 0.0
    if q.quantitative and BREAKDOWN_RE.match(reading.unit.text):
        score += W.breakdown
    for word, numbers in q.names.items():
        if word in reading.names:
            score += W.named_exact if reading.names[word] == numbers else W.named_other
    return score


def _shape_score(unit: Unit) -> float:
    length = len(unit.text)
    score = 0.0
    if unit.kind == "row" and not unit.header:
        tail = unit.text.split()[len(unit.text.split()) - numeric_tail(unit.text) :]
        if len(tail) >= 2 and not YEAR_RE.match(tail[0]):
            score += W.unlabeled_columns
    if length > W.long_unit_chars:
        score -= (length - W.long_unit_chars) / W.long_unit_step
    if length < W.short_sentence_chars and unit.kind == "sentence":
        score += W.short_sentence
    return score


def _adjacent(unit_terms: list[str], first: set[str], second: set[str]) -> bool:
    return any(unit_terms[i] in first and unit_terms[i + 1] in second for i in range(len(unit_terms) - 1))
