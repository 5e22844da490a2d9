"""Key-figure panels: figures laid out side by side in columns, each over its label.

Plain text extraction reads such a panel row by row, so two figures share one
line ("100,500a 61"), their labels the next ("employees countries of
operation") and last year's values the one after ("(2023 87,800) (2023 61)"):
which label belongs to which figure is lost. A page shows that signature when a
line holds two or more "(year value)" groups; only those pages are read again
in pypdf's layout mode, which keeps each word's column, and every figure
becomes one card: "employees 100,500a (2023 87,800)".
"""

import re

PRIOR_RE = re.compile(r"\((?:19|20)\d\d [^()]+\)")
FIGURE_RE = re.compile(r"^[$£€>~<]?\d[\d,.]*(?:%|bn|m|GW|MtCO2e|/boe|mmboe/d|x)?[a-z]?$")
SEGMENT_RE = re.compile(r"\S+(?: \S+)*")  # words separated by single spaces; 2+ spaces end a segment
COLUMN_TOLERANCE = 16  # characters a label may sit left or right of its figure's column
CARD_LINES = 5  # lines below a figure that may hold its label and prior value


def has_panel(text: str) -> bool:
    return any(len(PRIOR_RE.findall(line)) >= 2 for line in text.splitlines())


def _segments(line: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in SEGMENT_RE.finditer(line) if m.group() not in ("l", "«")]


def panel_cards(layout_text: str) -> list[str]:
    """One "label figure (prior)" line per figure of the page's panels, in reading order."""
    cards: list[str] = []
    open_cards: list[dict] = []
    for line in layout_text.splitlines():
        segments = _segments(line)
        figures = _leading_figures(segments)
        if figures:
            # A row of figures starts the next cards (what follows on the line is another column's content).
            cards.extend(_close(open_cards))
            open_cards = [{"column": start, "figure": text, "label": [], "prior": "", "age": 0} for start, text in figures]
            continue
        for start, text in segments:
            card = _nearest(open_cards, start)
            if card is None or card["prior"]:
                continue
            if PRIOR_RE.match(text) and text.startswith("("):
                card["prior"] = PRIOR_RE.match(text).group()
            else:
                card["label"].append(text)
        for card in open_cards:
            card["age"] += 1
        finished = [c for c in open_cards if c["prior"] or c["age"] >= CARD_LINES]
        cards.extend(_close(finished))
        open_cards = [c for c in open_cards if c not in finished]
    cards.extend(_close(open_cards))
    return cards


def _leading_figures(segments: list[tuple[int, str]]) -> list[tuple[int, str]]:
    figures = []
    for start, text in segments:
        if not FIGURE_RE.match(text):
            break
        figures.append((start, text))
    return figures


def _nearest(cards: list[dict], start: int) -> dict | None:
    best = min(cards, key=lambda c: abs(c["column"] - start), default=None)
    if best is None or abs(best["column"] - start) > COLUMN_TOLERANCE:
        return None
    return best


def _close(cards: list[dict]) -> list[str]:
    out = []
    for card in cards:
        label = " ".join(card["label"]).replace("«", "").strip()
        if label:
            out.append(" ".join(part for part in (label, card["figure"], card["prior"]) if part))
    return out


def panel_passages(page_text: str, cards: list[str]) -> list[tuple[str, str]]:
    """(heading, text) per card, so each key figure ranks as the short, labelled passage it is: headed by the
    page's first line and the card's label, each card naming the page's year."""
    lines = [line.strip() for line in page_text.splitlines() if line.strip()]
    page_heading = lines[0][:120] if lines else "Key figures"
    years = re.findall(r"\b(?:19|20)\d\d\b", " ".join(lines[:3]))
    year = f" in {max(years)}" if years else ""
    out = []
    for card in cards:
        out.append((f"{page_heading} – {_label(card)}", _with_year(card, year)))
    return out


def _label(card: str) -> str:
    """The words before the card's figure."""
    words = card.split(" ")
    for i, word in enumerate(words):
        if FIGURE_RE.match(word):
            return " ".join(words[:i])
    return card


def _with_year(card: str, year: str) -> str:
    """ "employees 100,500a (2023 87,800)" -> "employees 100,500a in 2024 (2023 87,800)"."""
    prior = PRIOR_RE.search(card)
    if not year or prior is None:
        return card
    return f"{card[: prior.start()].rstrip()}{year} {prior.group()}"
