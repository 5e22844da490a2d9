"""Words as PostgreSQL's ``english`` text-search configuration sees them.

The reranker and the full-text index must agree on what a word is: a question
term matches a passage in Python exactly when PostgreSQL would match it. So
stems and stop words come from PostgreSQL's own ``english_stem`` dictionary
(Snowball English with the ``english`` stop list), looked up in batches and
cached in the process; document frequencies come from ``ts_stat`` over the
same ``search`` column the GIN index serves.
"""

import math
import re
import threading
from collections.abc import Iterable

from django.db import connection

from rag.pdfparse import YEAR_RE

WORD_RE = re.compile(r"[a-z0-9][a-z0-9'’&-]*")
# Words that phrase a request rather than name its topic ("give me", "how many", "please list").
# PostgreSQL's stop list covers the function words; these are the question-asking verbs and modals it keeps.
REQUEST_WORDS = frozenset({
    "many", "much", "whether", "could", "would", "shall", "may", "might", "must", "also", "please", "give", "show",
    "tell", "list", "describe", "explain", "yes", "like",
    # Words about when, or that refer to the issuer of a document rather than to the topic asked about.
    "year", "years", "end", "start", "beginning", "full", "date", "january", "december", "occur", "occurred",
    "number", "company", "group", "report", "reported",
})  # fmt: skip
# A stem of a document's title found in at least this share of its passages is what the document is about (a
# company's name in its own report, a program's in its manual), so it cannot tell passages apart: it is left out
# of the question's terms, like a stop word. Other frequent words ("default" in a manual) stay terms, weighted
# by their rarity, so a second document never takes a word away from the first one's questions.
DOMINANT_SHARE = 0.35
DOMINANT_MIN_PASSAGES = 20  # a shorter document has too few passages to tell its subject from chance

_lock = threading.Lock()
_stems: dict[str, str] = {}  # word -> PostgreSQL stem, "" for a stop word
_stats: dict = {"key": None, "idf": {}, "dominant": frozenset()}


def _normal(word: str) -> str:
    return word.replace("’", "'").strip("'-")


def stems(words: Iterable[str]) -> dict[str, str]:
    """{word: stem}, "" for stop words; unknown words cost one query per call, not per word."""
    wanted = set(words)
    missing = [w for w in wanted if w not in _stems]
    if missing:
        with connection.cursor() as cursor:
            # english_stem returns {} for a stop word; words with digits go through unchanged, as in the index.
            cursor.execute(
                "SELECT w, CASE WHEN w ~ '[0-9]' THEN w ELSE coalesce((ts_lexize('english_stem', w))[1], '') END"
                " FROM unnest(%s::text[]) AS w",
                [[_normal(w) for w in missing]],
            )
            found = dict(cursor.fetchall())
        with _lock:
            for word in missing:
                _stems[word] = found.get(_normal(word), "")
    return {w: _stems[w] for w in wanted}


def stem(word: str) -> str:
    return stems([word])[word]


def is_content_word(word: str) -> bool:
    return word not in REQUEST_WORDS and bool(_stems[word] if word in _stems else stem(word))


def terms(text: str) -> list[str]:
    """The stems of ``text``'s content words, in order (years are matched apart, not as terms)."""
    words = [w for w in WORD_RE.findall(text.lower()) if w not in REQUEST_WORDS and not YEAR_RE.match(w)]
    if any(w not in _stems for w in words):
        stems(words)
    dominant = _stats["dominant"]
    out = []
    for word in words:
        found = _stems[word]
        if found and found not in dominant:
            out.append(found)
    return out


def warm(texts: Iterable[str]) -> None:
    """Look up every word of ``texts`` at once (one query instead of one per answer)."""
    vocabulary: set[str] = set()
    for text in texts:
        vocabulary.update(WORD_RE.findall(text.lower()))
    stems(vocabulary)


def idf_table() -> dict[str, float]:
    """{stem: inverse document frequency} over all passages, from ``ts_stat`` (as of the last ``refresh``)."""
    if _stats["key"] is None:
        refresh()
    return _stats["idf"]


def current_key() -> tuple[int, int] | None:
    return _stats["key"]


def refresh() -> tuple[int, int]:
    """Rebuild the tables when passages were added or removed; called once per question."""
    key = corpus_key()
    if _stats["key"] == key:
        return key
    with connection.cursor() as cursor:
        cursor.execute("SELECT word, ndoc FROM ts_stat('SELECT search FROM rag_passage')")
        rows = cursor.fetchall()
        dominant_by_document = _dominant(cursor)
        cursor.execute("SELECT id, title FROM rag_document")
        titled = {d: set(stems(WORD_RE.findall(title.lower())).values()) for d, title in cursor.fetchall()}
        dominant = frozenset(w for d, words in dominant_by_document.items() for w in words if w in titled.get(d, ()))
        names = _document_names(cursor, dominant_by_document)
        title_names = {d: frozenset(words & titled.get(d, set())) for d, words in names.items()}
        cursor.execute("SELECT count(*) FROM rag_passage")
        passages = max(cursor.fetchone()[0], 1)
    table = {word: math.log((passages + 1) / (ndoc + 0.5)) for word, ndoc in rows}
    with _lock:
        _stats.update(
            key=key, idf=table, dominant=dominant, names=names, title_names=title_names, rarest=math.log((passages + 1) / 0.5)
        )
    return key


def _dominant(cursor) -> dict[int, set[str]]:
    """Per document: the stems in at least ``DOMINANT_SHARE`` of its passages (each document judged alone, so a
    second one changes nothing for the first)."""
    cursor.execute(
        "SELECT c.document_id, s.word FROM (SELECT document_id, count(*) AS n FROM rag_passage GROUP BY 1) c,"
        " LATERAL ts_stat(format('SELECT search FROM rag_passage WHERE document_id = %%s', c.document_id)) s"
        " WHERE c.n >= %s AND s.ndoc >= %s * c.n",
        [DOMINANT_MIN_PASSAGES, DOMINANT_SHARE],
    )
    found: dict[int, set[str]] = {}
    for document_id, word in cursor.fetchall():
        found.setdefault(document_id, set()).add(word)
    return found


NAME_RATIO = 2.0  # a word names its document when its passages hold it this much more often than the others' ...
NAME_ELSEWHERE = 0.05  # ... and fewer than this share of the other documents' passages hold it
NAME_ELSEWHERE_PASSAGES = 2  # (or this many at most: a short document quoting another's name)


def _document_names(cursor, dominant: dict[int, set[str]]) -> dict[int, frozenset[str]]:
    """Per document, the words by which a question names it: the years in its title, and those of its dominant
    stems and title words that characterise it ("gnuplot"; "assignment" in "assignment brief" when the brief says
    "assigned" more often than the others do). A word the other documents use as much ("use", "form") names none."""
    cursor.execute("SELECT id, title FROM rag_document")
    titles = cursor.fetchall()
    names: dict[int, frozenset[str]] = {}
    for document_id, title in titles:
        words = WORD_RE.findall(title.lower())
        found = {w for w in words if YEAR_RE.match(w)}
        candidates = dominant.get(document_id, set()) | {
            s for w, s in stems(w for w in words if w not in REQUEST_WORDS and not YEAR_RE.match(w)).items() if s
        }
        found |= {word for word in candidates if len(titles) < 2 or _characteristic(cursor, document_id, word)}
        names[document_id] = frozenset(found)
    return names


def _characteristic(cursor, document_id: int, word: str) -> bool:
    cursor.execute(
        "SELECT count(*) FILTER (WHERE document_id = %s AND search @@ q), count(*) FILTER (WHERE document_id = %s),"
        " count(*) FILTER (WHERE document_id <> %s AND search @@ q), count(*) FILTER (WHERE document_id <> %s)"
        " FROM rag_passage, (SELECT quote_literal(%s)::tsquery AS q) AS t",
        [document_id, document_id, document_id, document_id, word],
    )
    inside, size, outside, rest = cursor.fetchone()
    elsewhere = outside / max(rest, 1)
    rare_elsewhere = elsewhere < NAME_ELSEWHERE or outside <= NAME_ELSEWHERE_PASSAGES
    return bool(inside) and inside / max(size, 1) >= NAME_RATIO * elsewhere and rare_elsewhere


def named_documents(question: str) -> set[int]:
    """Documents the question names (by a dominant word, "bp", or a year in the title); call after ``idf_table``."""
    words = WORD_RE.findall(question.lower())
    asked = set(stems(words).values()) | {w for w in words if YEAR_RE.match(w)}
    return {d for d, names in _stats.get("names", {}).items() if names & asked}


def document_names(document_id: int) -> frozenset[str]:
    """The words of its title by which a question names this document ("assignment"; call after ``idf_table``)."""
    return _stats.get("title_names", {}).get(document_id, frozenset())


def rarest_idf() -> float:
    """The idf of a word no passage holds (call after ``idf_table``)."""
    return _stats.get("rarest", 1.0)


def corpus_key() -> tuple[int, int]:
    """Changes whenever passages are added or removed (cache key for derived tables).

    Passages are only written with their document, in one transaction, so the small document table tells.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(max(id), 0) FROM rag_document")
        return cursor.fetchone()
