"""Reads: image lists, similar images, summaries, word frequencies.

Everything goes through an ``ImageStore`` (PostgreSQL or MongoDB), so the same
selectors serve both. Rendering (thumbnails, the word cloud) lives in
``imaging.rendering``, question answering in ``imaging.questions``;
``images_answer_question`` is re-exported here for the query router.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np

from imaging.questions import images_answer_question
from imaging.records import image_public
from imaging.stores import ImageStore, store_default

__all__ = [
    "image_get",
    "image_list",
    "image_public",
    "image_similar",
    "images_answer_question",
    "images_summary",
    "images_word_frequencies",
]

STOPWORDS = {
    "a", "an", "the", "in", "of", "and", "or", "with", "without", "on", "at", "to", "is", "are", "view",
    "camera", "no", "one", "1", "2", "3", "4", "5", "6", "7", "8", "9", "holding", "wearing", "workers", "worker",
    "not", "sure", "about",  # "not sure about hard hat": the analyser abstaining is not something in the picture
}  # fmt: skip


def image_list(*, filters: dict, limit: int = 100, offset: int = 0, store: ImageStore | None = None) -> tuple[int, list[dict]]:
    store = store or store_default()
    total, rows = store.find(filters, limit=limit, offset=offset)
    return total, [image_public(r) for r in rows]


def image_get(*, image_id: str, store: ImageStore | None = None) -> dict | None:
    store = store or store_default()
    return store.get(image_id)


def image_similar(*, image_id: str, limit: int = 5, store: ImageStore | None = None) -> list[dict] | None:
    """Nearest images by cosine similarity of embeddings of the same model; None if no such image."""
    store = store or store_default()
    record = store.get(image_id)
    if record is None:
        return None
    query = np.asarray(record.get("embedding") or [], dtype=np.float32)
    if not query.size:
        return []
    others = [(i, v) for i, v in store.embeddings(record["embedding_model"]) if i != record["id"] and len(v) == query.size]
    if not others:
        return []
    matrix = np.asarray([v for _, v in others], dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
    scores = matrix @ query / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-scores)[:limit]
    ids = [others[i][0] for i in order]
    by_id = {r["id"]: r for r in store.find({"ids": ids}, limit=len(ids))[1]}
    return [
        {"similarity": round(float(scores[i]), 4), "image": image_public(by_id[others[i][0]])}
        for i in order
        if others[i][0] in by_id
    ]


def images_summary(*, store: ImageStore | None = None) -> dict:
    """Average compliance per site and type, per site, and per type (images without people have no score); how
    many images with people were judged to have hard hats on everyone, someone without, and how many are
    ``uncertain`` (a flag the analyser was not sure of: the images to review first)."""
    store = store or store_default()
    rows = store.summary()
    per_site: dict[str, list] = defaultdict(list)
    per_type: dict[str, list] = defaultdict(list)
    for row in rows:
        per_site[row["site_id"]].append(row)
        per_type[row["device_type"]].append(row)

    def roll(key: str, groups: dict[str, list]) -> list[dict]:
        out = []
        for name, items in sorted(groups.items()):
            scored = [(r["average_compliance"], r["images_with_people"]) for r in items if r["average_compliance"] is not None]
            weight = sum(n for _, n in scored)
            out.append(
                {
                    key: name,
                    "images": sum(r["images"] for r in items),
                    "images_with_people": sum(r["images_with_people"] for r in items),
                    "average_compliance": round(sum(a * n for a, n in scored) / weight, 1) if weight else None,
                    **{count: sum(r[count] for r in items) for count in ("with_hard_hat", "without_hard_hat", "uncertain")},
                }
            )
        return out

    return {"by_site_and_type": rows, "by_site": roll("site_id", per_site), "by_device_type": roll("device_type", per_type)}


NEGATIONS = ("no ", "not ", "without ", "missing ")


def images_word_frequencies(*, site_id: str | None = None, store: ImageStore | None = None) -> Counter:
    """Terms for the word cloud: each thing once, as its longest phrase.

    Keywords (deliberate tags) weigh double; negated tags ("no hard hat") name what is
    not in the picture and are left out; a word that is part of a kept phrase ("hat"
    in "hard hat") adds to that phrase instead of standing beside it.
    """
    store = store or store_default()
    _total, rows = store.find({"site_id": site_id} if site_id else {}, limit=10_000)
    phrases: Counter = Counter()
    tokens: Counter = Counter()
    for row in rows:
        for keyword in row.get("keywords") or []:
            keyword = " ".join(keyword.lower().split())
            if keyword and not keyword.startswith(NEGATIONS):
                phrases[keyword] += 2
        for clause in re.split(r"[;,.]", (row.get("description") or "").lower()):
            if re.search(r"\b(?:no|not|without|nobody)\b", clause):
                continue  # "1 without a safety vest" names what is missing, not what is in the picture
            for token in re.findall(r"[a-z][a-z-]+", clause):
                if token not in STOPWORDS:
                    tokens[token] += 1
    return _merge_partials(phrases, tokens)


def _merge_partials(phrases: Counter, tokens: Counter) -> Counter:
    """Fold every term whose words all appear in a longer term into the longest such term."""
    terms = phrases + tokens
    by_length = sorted(terms, key=lambda t: (-len(t.split()), t))
    merged: Counter = Counter()
    for term in by_length:
        words = set(term.split())
        home = next((kept for kept in merged if words < set(kept.split())), None)
        merged[home or term] += terms[term]
    return merged
