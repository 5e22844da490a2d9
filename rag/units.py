"""Passages to answerable units: sentences (with the list a colon introduces) and labelled table rows.

At answer time a passage is split into units: sentences, and table rows labelled with their row label,
heading and years (see ``rag.pdfparse`` for how pages become passages).
"""

import re
from dataclasses import dataclass

from rag.pdfparse import (
    PREPOSITION_END_RE,
    SENTENCE_END_RE,
    SENTENCE_SPLIT_RE,
    YEAR_RE,
    is_heading,
    is_row,
    is_year_header,
    numeric_tail,
)


@dataclass
class Unit:
    """A sentence or a table row, with the context that makes it readable."""

    text: str
    kind: str  # "sentence" | "row"
    label: str = ""
    header: str = ""
    legend: bool = False  # a chart's value whose label holds the chart's legend lines, not a sentence or table row

    def display(self) -> str:
        if self.kind == "row":
            if not self.label or self.text.startswith(self.label):
                body = self.text
            else:
                # "Oil spills –" + "number 96 100 108" reads as one label; "Safety …" + "2024 38" needs a colon.
                joined = self.label.endswith(("–", "-", "—")) or self.text[:1].islower()
                body = f"{self.label} {self.text}" if joined else f"{self.label}: {self.text}"
            return f"{body} (columns: {self.header})" if self.header else body
        return self.text

    def searchable(self) -> str:
        return f"{self.label} {self.text} {self.header}"


def _join(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if text.endswith("-") and not text.endswith(" -") and line[:1].islower():
            text += line  # a word broken across lines: "life-" + "changing"
        else:
            text = f"{text} {line}" if text else line
    return text


BULLET_RE = re.compile(r"^(?:[•▪◦*]|o(?= [A-Z])|[-–](?= ))\s*")
LIST_ITEMS = 12  # items joined to the sentence that introduces them at most
LIST_CHARS = 400


def heading_fragment(lines: list[str]) -> int:
    """1 when the first line of a run of prose is a heading or chart label glued to the sentence after it
    ("Scope 1 and 2 emissions" / "Our combined Scope 1 and 2 emissions were ..."): a short title-like line,
    clearly shorter than the column's lines, followed by a capitalised line. Else 0."""
    if len(lines) < 2:
        return 0
    first, rest = lines[0], lines[1:]
    return int(
        is_heading(first)
        and "," not in first
        and not PREPOSITION_END_RE.search(first)
        and rest[0][:1].isupper()
        and len(first) < 0.65 * max(len(line) for line in rest)
    )


def list_item(line: str, items: int, chars: int) -> bool:
    """A line that continues a list introduced by a sentence ending in a colon ("Device categories include:")."""
    bulleted = bool(BULLET_RE.match(line))
    return (
        items < LIST_ITEMS
        and chars + len(line) < LIST_CHARS
        and len(line) < 70
        and numeric_tail(line) == 0
        and (bulleted or (": " not in line and not line.endswith(".")))
    )


def passage_units(heading: str, text: str) -> list[Unit]:
    units: list[Unit] = []
    buffer: list[str] = []
    header = ""
    series_label = heading
    listing: Unit | None = None  # the sentence ending in a colon whose list items follow
    items = 0

    def flush_prose(lines: list[str]) -> None:
        nonlocal listing, items
        cut = heading_fragment(lines)
        if cut:
            units.append(Unit(lines[0], "sentence"))  # context for the sentence after it, never glued to it
        joined = _join(lines[cut:])
        if joined:
            units.extend(Unit(s.strip(), "sentence") for s in SENTENCE_SPLIT_RE.split(joined) if len(s.strip()) > 2)
            if units[-1].text.endswith(":"):
                listing, items = units[-1], 0

    previous = ""
    waiting: Unit | None = None  # a row of bare values whose label follows ("100,500 61" / "employees countries")
    series: list[Unit] = []  # "2024 35 35" / "2023 34 33": a chart whose legend lines follow it
    legend = 0
    for line in text.split("\n"):
        if series and not is_row(line):
            if (
                legend < 4
                and len(line) <= 35
                and not SENTENCE_END_RE.search(line)
                and not PREPOSITION_END_RE.search(line)
                and numeric_tail(line) == 0
            ):
                for unit in series:
                    unit.label = f"{unit.label} {line}".strip()
                    unit.legend = True
                legend += 1
                previous = line
                continue
            series, legend = [], 0
        if waiting is not None:
            if (
                len(line) < 70
                and not line.startswith("(")
                and not SENTENCE_END_RE.search(line)
                and numeric_tail(line) == 0
                and waiting.label.count(" ") < 14
            ):
                waiting.label = f"{waiting.label} {line}".strip()
                previous = line
                continue
            waiting = None
        if listing is not None:
            if not buffer and list_item(line, items, len(listing.text)):
                item = BULLET_RE.sub("", line).rstrip(";,")
                listing.text = f"{listing.text}{' ' if not items else '; '}{item}"
                items += 1
                previous = line
                continue
            listing = None
        previous_ended = not previous or bool(SENTENCE_END_RE.search(previous)) or previous == header
        columns = len(header.split()) if header else 0
        previous = line
        if is_year_header(line):
            flush_prose(buffer)
            buffer = []
            header = line
            continue
        if is_row(line, columns=columns, previous_ended=previous_ended or (units and units[-1].kind == "row" and not buffer)):
            # Trailing unterminated short lines are this row's label ("Tier 1 and tier 2 / process safety / events 38 39 50").
            label_lines: list[str] = []
            all_numbers = numeric_tail(line) == len(line.split())
            first = line.split()[0]
            # Bare values outside a table ("100,500 61" then "employees countries of operation")
            # take their label from the lines that follow, not from the text before them.
            label_follows = all_numbers and not columns and not YEAR_RE.match(first)
            if first.startswith("("):
                label_follows = True  # "(2023 2,850)": last year's comparative, not a labelled row
            while not label_follows and (
                buffer
                and not SENTENCE_END_RE.search(buffer[-1])
                and len(buffer[-1]) < 70
                and len(label_lines) < 3
                and sum(map(len, label_lines)) + len(buffer[-1]) < 120
            ):
                label_lines.insert(0, buffer.pop())
            flush_prose(buffer)
            buffer = []
            label = _join(label_lines)
            if not label and YEAR_RE.match(first) and all_numbers:
                label = series_label  # "2024 38" under a key-figure heading
            elif label and all_numbers:
                series_label = label
            units.append(Unit(line, "row", label=label, header=header))
            if not label and all_numbers and not first.startswith("("):
                waiting = units[-1]
            if YEAR_RE.match(first) and all_numbers and not columns:
                series.append(units[-1])
            else:
                series, legend = [], 0
            continue
        if buffer and BULLET_RE.match(line):
            flush_prose(buffer)  # a bullet starts a new item
            buffer = []
        buffer.append(line)
        if SENTENCE_END_RE.search(line):
            flush_prose(buffer)
            buffer = []
    flush_prose(buffer)
    return units


def row_value(unit: Unit, year: str) -> str | None:
    """The value of a table row in the column for ``year``, when the columns line up unambiguously."""
    if unit.kind != "row":
        return None
    tokens = unit.text.split()
    tail = tokens[len(tokens) - numeric_tail(unit.text) :]
    if tail and YEAR_RE.match(tail[0]) and len(tail) == 2 and not unit.header:
        return tail[1] if tail[0] == year else None  # "2024 38" in a key-figure series
    columns = unit.header.split()
    if columns and len(tail) == len(columns) and year in columns:
        return tail[columns.index(year)]
    return None
