"""PDF text to passages, and passages to answerable units.

pypdf gives each page as lines in reading order. Annual-report pages mix prose
wrapped in narrow columns, key-figure panels ("2024 38" under a heading) and
tables whose rows end in numbers. A passage is a run of lines cut at headings
and sentence ends, never inside a table, so a table keeps its heading and its
column header (a line of years). At answer time a passage is split into units
(``rag.units``). Running headers and footers and glued footnote letters are
found by repetition and frequency, never by name.
"""

import re
from pathlib import Path

import pypdf
from pypdf.errors import PyPdfError

from rag.panels import has_panel, panel_cards

NUMBER = r"\(?[-–<>~]?[$£€]?\d[\d,]*(?:\.\d+)?(?:%|bn|m|mmboe/d|GW|MtCO2e|/boe)?\)?[a-z]{0,2}"
NUM_TOKEN_RE = re.compile(rf"^(?:{NUMBER}|–|-|n/a)$")
YEAR_RE = re.compile(r"^(?:19|20)\d\d[a-z]?$")
SENTENCE_END_RE = re.compile(r"[.!?:;][\"”’)]?$")
SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(“\"$£0-9])")
GLYPHS_RE = re.compile(r"«[a-z]{0,3}|[«★òô¢]")

LONE_NUMBER_RE = re.compile(r"^\d{1,3}(?:\.\d)?%?$")  # chart axis and bar labels
PASSAGE_TARGET = 900
PASSAGE_MAX = 1400


class PdfUnreadable(Exception):
    """Encrypted, damaged or not a PDF; the message says which."""


def pdf_pages(path: Path, wanted: list[int] | None = None) -> tuple[int, dict[int, str], dict[int, list[str]]]:
    """(page count, {1-based page number: text}, {page number: key-figure cards}) for ``wanted`` pages (all when None).

    Pages with a key-figure panel (see ``rag.panels``) are read a second time in layout mode for their cards.
    """
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            # An empty user password is common for "protected" reports; anything else we cannot read.
            try:
                if not reader.decrypt(""):
                    raise PdfUnreadable("encrypted (password required)")
            except (NotImplementedError, PyPdfError) as exc:
                raise PdfUnreadable(f"encrypted: {exc}") from exc
        count = len(reader.pages)
        numbers = [n for n in (wanted or range(1, count + 1)) if 1 <= n <= count]
        pages = {n: reader.pages[n - 1].extract_text() or "" for n in numbers}
        panels = {
            n: cards
            for n in numbers
            if has_panel(pages[n]) and (cards := panel_cards(reader.pages[n - 1].extract_text(extraction_mode="layout")))
        }
    except PdfUnreadable:
        raise
    # A hostile or damaged file can make a third-party parser raise anything (pypdf's LimitReachedError is no
    # PdfReadError; RecursionError, struct.error, ...): every failure is this one file's, reported and skipped.
    except Exception as exc:
        raise PdfUnreadable(f"unreadable PDF: {exc.__class__.__name__}: {str(exc)[:200]}") from exc
    return count, pages, panels


FOOTNOTE_RUN_RE = re.compile(r"\b([A-Za-z]{4,}?[sytend])(?:ab|abc|abcd|abcde|bc|bcd|cd|cde)\b")


def clean_line(line: str) -> str:
    line = GLYPHS_RE.sub("", line).replace("\u00a0", " ").strip()
    # Key-performance-indicator marker ("l") glued to a heading or standing alone:
    # "lTier 1 ..." -> "Tier 1 ...", "ABClGreenhouse" -> "ABC Greenhouse", "38 l 33.6" -> "38 33.6".
    line = re.sub(r"^l(?=[A-Z][a-z])", "", line)
    line = re.sub(r"(?<=[A-Z]{3})l(?=[A-Z][a-z])", " ", line)  # after an acronym
    line = re.sub(r"(?:(?<=\s)|^)l(?=\s|$)", "", line)
    # Footnote letters glued to a word: "emissionsabcde" -> "emissions".
    line = FOOTNOTE_RUN_RE.sub(r"\1", line)
    return re.sub(r"\s{2,}", " ", line).strip()


def is_year_header(line: str) -> bool:
    tokens = line.split()
    return 2 <= len(tokens) <= 12 and all(YEAR_RE.match(t) for t in tokens)


def numeric_tail(line: str) -> int:
    """How many numeric tokens end the line."""
    count = 0
    for token in reversed(line.split()):
        if NUM_TOKEN_RE.match(token):
            count += 1
        else:
            break
    return count


PREPOSITION_END_RE = re.compile(r"\b(?:in|of|to|from|than|with|and|by|was|were|is|at|for|on|the|a|an|over)$", re.I)


def is_row(line: str, *, columns: int = 0, previous_ended: bool = True) -> bool:
    """A table row: a label followed by numbers (as many as the table has year columns)."""
    if line.endswith((".", ";", ":", ",")) or is_year_header(line):
        return False
    tokens = line.split()
    tail = numeric_tail(line)
    if tail == 0:
        return False
    label = " ".join(tokens[: len(tokens) - tail])
    if ". " in label or len(label) > 90:
        return False
    if tail == len(tokens):
        return tail >= 2 or len(tokens[0]) > 4
    if columns >= 2:
        return tail >= min(columns, 3)
    if tail >= 2:
        return True
    # One number after text: a row only when it does not continue a sentence ("... down from nine in / 2023").
    return previous_ended and len(label) <= 40 and not PREPOSITION_END_RE.search(label)


RUNNING_SHARE = 0.5  # a line on at least this share of pages (and at least 3) is a running header or footer
RUNNING_MIN_PAGES = 3


def _line_shape(line: str) -> str:
    """A line with its numbers blanked, so "Annual Report 2024 17" and "... 2024 18" count as one running line."""
    # Page numbers sit before the footer on even pages and after it on odd ones: drop them at both ends.
    return re.sub(r"^(?:# )+|(?: #)+$", "", re.sub(r"\d+", "#", " ".join(line.lower().split())))


FOOTNOTE_MAX = 3  # a word with footnote letters glued on ("billiona") is rare ...
FOOTNOTE_BASE = 10  # ... and the word without them common: at least this often and 5 times as often


def footnote_words(pages: dict[int, str]) -> dict[str, str]:
    """{"billiona": "billion", "offshorede": "offshore"}: words carrying glued footnote letters (up to three
    distinct letters of a-h), found by how often each spelling occurs in the document: no word list, any numbering."""
    counts: dict[str, int] = {}
    for text in pages.values():
        for word in re.findall(r"[A-Za-z]+", text):
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
    found = {}
    for word, n in counts.items():
        if n > FOOTNOTE_MAX:
            continue
        for size in (1, 2, 3):
            base, letters = word[:-size], word[-size:]
            if len(base) < 4 or not re.fullmatch(r"[a-h]+", letters) or len(set(letters)) < size:
                continue
            if letters == "d" and base.endswith("e"):
                continue  # "captured" is "capture" in the past tense, not a footnote
            if counts.get(base, 0) >= max(FOOTNOTE_BASE, 5 * n):
                found[word] = base
                break
    return found


def strip_footnotes(text: str, words: dict[str, str]) -> str:
    if not words:
        return text
    return re.sub(r"[A-Za-z]+", lambda m: m.group()[: len(words[w])] if (w := m.group().lower()) in words else m.group(), text)


def page_shapes(text: str) -> set[str]:
    return {_line_shape(clean_line(raw)) for raw in text.splitlines()}


def running_lines(pages: dict[int, str]) -> set[str]:
    """Shapes of the lines repeated on most pages: headers, footers, page labels (any document, no names)."""
    seen: dict[str, int] = {}
    for text in pages.values():
        for shape in page_shapes(text):
            # Lines of only numbers (a table's year header) repeat because tables do, not because they run;
            # "11/15/2025" or "2 | P a g e" do.
            if len(re.findall(r"[a-z]", shape)) >= 3 or re.search(r"[/|]", shape):
                seen[shape] = seen.get(shape, 0) + 1
    floor = max(RUNNING_MIN_PAGES, RUNNING_SHARE * len(pages))
    return {shape for shape, count in seen.items() if count >= floor}


def is_heading(line: str) -> bool:
    return (
        3 <= len(line) <= 70
        and line[0].isupper()
        and not SENTENCE_END_RE.search(line)
        and not line.endswith(",")
        and numeric_tail(line) == 0
        and len(line.split()) <= 9
    )


def has_table(text: str) -> bool:
    return sum(1 for line in text.split("\n") if is_row(line)) >= 2


def split_page(text: str, running: frozenset[str] | set[str] = frozenset()) -> list[tuple[str, str]]:
    """Passages of one page as (heading, text); lines whose shape is in ``running`` (see ``running_lines``) go."""
    lines = [clean_line(raw) for raw in text.splitlines()]
    lines = [line for line in lines if line and _line_shape(line) not in running and not LONE_NUMBER_RE.match(line)]
    passages: list[tuple[str, str]] = []
    current: list[str] = []
    heading = ""
    size = 0
    in_table = False

    def cut() -> None:
        nonlocal current, size
        if current:
            passages.append((heading, "\n".join(current)))
        current, size = [], 0

    for i, line in enumerate(lines):
        previous_ended = i == 0 or bool(SENTENCE_END_RE.search(lines[i - 1])) or is_row(lines[i - 1])
        row = is_row(line, previous_ended=previous_ended) or is_year_header(line)
        if not row and is_heading(line) and previous_ended and size >= 250 and not in_table:
            cut()
            heading = line
        elif (not row and not in_table and size >= PASSAGE_TARGET and previous_ended) or size >= PASSAGE_MAX:
            cut()
        if not current and is_heading(line):
            heading = line
        in_table = row or (in_table and len(line) < 60 and not SENTENCE_END_RE.search(line))
        current.append(line)
        size += len(line) + 1
    cut()
    return passages
