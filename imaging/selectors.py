"""Reads: image lists, similar images, summaries, word clouds, image questions.

Everything goes through an ``ImageStore`` (PostgreSQL or MongoDB), so the same
selectors serve both. ``images_answer_question`` is what the query router
(``/api/query``, ``manage.py ask``) calls for questions about site images.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from imaging.stores import ImageStore, store_default
from telemetry.device_types import SITES

HIGH_COMPLIANCE = 70.0  # "high safety compliance": hat plus vest or equipment, on average
LOW_COMPLIANCE = 40.0
THUMBNAIL_SIDE = 256
STOPWORDS = {
    "a", "an", "the", "in", "of", "and", "or", "with", "without", "on", "at", "to", "is", "are", "view",
    "camera", "no", "one", "1", "2", "3", "4", "5", "6", "7", "8", "9", "holding", "wearing", "workers", "worker",
}  # fmt: skip


def image_public(record: dict) -> dict:
    """The API's view of a record: the seed's shape, links to the image and its thumbnail."""
    image_id = record["id"]
    return {
        "id": image_id,
        "filename": record["filename"],
        "device_type": record["device_type"],
        "site_id": record["site_id"],
        "description": record.get("description", ""),
        "keywords": record.get("keywords", []),
        "safety_compliance": record.get("safety_compliance", {}),
        "compliance_score": (record.get("safety_compliance") or {}).get("compliance_score"),
        "persons": record.get("persons", 0),
        "people": record.get("people", []),
        "quality": record.get("quality", {}),
        "width": record.get("width"),
        "height": record.get("height"),
        "provider": record.get("provider", ""),
        "reviewed": record.get("reviewed", False),
        "review": record.get("review", {}),
        "reviewed_by": record.get("reviewed_by", ""),
        "reviewed_at": record.get("reviewed_at"),
        "processed_at": record.get("processed_at"),
        "content_hash": record.get("content_hash", ""),
        "image_url": f"/api/images/{image_id}/file",
        "thumbnail_url": f"/api/images/{image_id}/thumbnail",
    }


def image_list(*, filters: dict, limit: int = 100, offset: int = 0, store: ImageStore | None = None) -> tuple[int, list[dict]]:
    store = store or store_default()
    total, rows = store.find(filters, limit=limit, offset=offset)
    return total, [image_public(r) for r in rows]


def image_get(*, image_id: str, store: ImageStore | None = None) -> dict | None:
    store = store or store_default()
    return store.get(image_id)


def image_file(*, record: dict) -> tuple[bytes, str]:
    """The original bytes and their content type. Raises FileNotFoundError when the file is gone."""
    data = Path(record["path"]).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        fmt = (img.format or "JPEG").upper()
    return data, Image.MIME.get(fmt, "application/octet-stream")


def image_thumbnail(*, record: dict, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG at most ``side`` pixels on its longest edge."""
    with Image.open(record["path"]) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85)
    return out.getvalue()


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
    """Average compliance per site and type, per site, and per type (images without people have no score)."""
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
                    "without_hard_hat": sum(r["without_hard_hat"] for r in items),
                }
            )
        return out

    return {"by_site_and_type": rows, "by_site": roll("site_id", per_site), "by_device_type": roll("device_type", per_type)}


def images_word_frequencies(*, site_id: str | None = None, store: ImageStore | None = None) -> Counter:
    store = store or store_default()
    _total, rows = store.find({"site_id": site_id} if site_id else {}, limit=10_000)
    words: Counter = Counter()
    for row in rows:
        for keyword in row.get("keywords") or []:
            words[keyword.lower()] += 2  # a keyword is a deliberate tag: weigh it above prose
        for token in re.findall(r"[a-z][a-z-]+", (row.get("description") or "").lower()):
            if token not in STOPWORDS:
                words[token] += 1
    return words


def images_wordcloud_png(*, site_id: str | None = None, store: ImageStore | None = None) -> bytes | None:
    """A PNG word cloud of what the site's images show; None when there is nothing to draw."""
    from wordcloud import WordCloud

    words = images_word_frequencies(site_id=site_id, store=store)
    if not words:
        return None
    cloud = WordCloud(width=800, height=400, background_color="white", colormap="viridis", random_state=7)
    cloud.generate_from_frequencies(dict(words))
    out = io.BytesIO()
    cloud.to_image().save(out, "PNG")
    return out.getvalue()


# --- Natural-language image questions ------------------------------------------

TYPE_WORDS = (
    (r"\bturbines?\b", "turbine"),
    (r"\bthermal\b|\bengines?\b", "thermal_engine"),
    (r"\brotors?\b|\belectrical\b", "electrical_rotor"),
    (r"\boil\b|\bgas\b|\bdrill|\bconnected\b", "connected_device"),
)
NEG = r"(?:without|no|not wearing|missing|lacking|not|unprotected by)"
HAT = r"(?:hard[\s-]?hats?|hats?|helmets?|safety hats?)"
VEST = r"(?:safety vests?|hi-?vis(?: vests?)?|vests?|reflective vests?)"
TOOL = r"(?:tablets?|ipads?|handhelds?|handheld devices?|inspection equipment|devices? in hand|clipboards?)"


def question_filters(question: str) -> dict:
    """Turn an image question into store filters plus a per-person requirement."""
    q = question.lower()
    filters: dict = {"has_people": True}
    person: dict = {}
    for pattern, device_type in TYPE_WORDS:
        if re.search(pattern, q):
            filters["device_type"] = device_type
            break
    sites = [s for s in SITES if s.lower() in q]
    if sites:
        filters["site_ids"] = sites
    for key, attr, noun in (
        ("has_hard_hat", "hard_hat", HAT),
        ("has_safety_vest", "safety_vest", VEST),
        ("has_inspection_equipment", "inspection_equipment", TOOL),
    ):
        if re.search(rf"{NEG}\s+(?:an?\s+|any\s+|their\s+)?(?:\w+\s+)?{noun}\b", q):
            filters[key] = False
        elif re.search(rf"\b{noun}\b", q):
            person[attr] = True
    if re.search(r"high(?:er)?\s+(?:safety\s+)?compliance|fully compliant|compliant", q) and "non-compliant" not in q:
        filters["min_compliance"] = HIGH_COMPLIANCE
    elif re.search(r"low\s+(?:safety\s+)?compliance|non-?compliant|poor\s+(?:safety\s+)?compliance", q):
        filters["max_compliance"] = LOW_COMPLIANCE
    # "an engineer has a hard hat and a tablet": one person with all of it, not the crew in total.
    if len(person) == 1:
        key = {"hard_hat": "has_hard_hat", "safety_vest": "has_safety_vest", "inspection_equipment": "has_inspection_equipment"}
        (attr,) = person
        filters[key[attr]] = True
        person = {}
    if "inspection_equipment" in person:
        filters["has_inspection_equipment"] = True
    return {"filters": filters, "person": person}


def _person_matches(record: dict, person: dict) -> bool:
    if not person:
        return True
    review = record.get("review") or {}
    flags = {"hard_hat": "has_hard_hat", "safety_vest": "has_safety_vest", "inspection_equipment": "has_inspection_equipment"}
    if any(flags[a] in review for a in person) or len(record.get("people") or []) != record.get("persons"):
        # A person corrected the image-level flags (or the count): judge by them.
        sc = record.get("safety_compliance") or {}
        return all(sc.get(flags[a]) is want for a, want in person.items())
    return any(all(bool((p.get(a) or {}).get("value")) is want for a, want in person.items()) for p in record.get("people") or [])


def images_answer_question(question: str, *, store: ImageStore | None = None) -> dict:
    """Answer an image question with the matching images and their sites; never an image without people."""
    store = store or store_default()
    parsed = question_filters(question)
    filters, person = parsed["filters"], parsed["person"]
    _total, rows = store.find(filters, limit=1000)
    rows = [r for r in rows if (r.get("persons") or 0) > 0 and _person_matches(r, person)]
    closest = False
    if not rows and filters.get("min_compliance") is not None:
        # Nothing reaches "high": say so, and show the best there is (still only images with people).
        relaxed = {k: v for k, v in filters.items() if k != "min_compliance"}
        _total, candidates = store.find(relaxed, limit=1000)
        candidates = [r for r in candidates if (r.get("persons") or 0) > 0 and _person_matches(r, person)]
        scored = [r for r in candidates if (r.get("safety_compliance") or {}).get("compliance_score") is not None]
        if scored:
            best = max(r["safety_compliance"]["compliance_score"] for r in scored)
            rows = [r for r in scored if r["safety_compliance"]["compliance_score"] == best]
            closest = True
    sites: dict[str, dict] = {}
    for r in rows:
        site = sites.setdefault(r["site_id"], {"site_id": r["site_id"], "device_types": set(), "images": [], "scores": []})
        site["device_types"].add(r["device_type"])
        site["images"].append(r["filename"])
        score = (r.get("safety_compliance") or {}).get("compliance_score")
        if score is not None:
            site["scores"].append(score)
    site_list = [
        {
            "site_id": s["site_id"],
            "device_types": sorted(s["device_types"]),
            "images": s["images"],
            "average_compliance": round(sum(s["scores"]) / len(s["scores"]), 1) if s["scores"] else None,
        }
        for s in sorted(sites.values(), key=lambda s: s["site_id"])
    ]
    described = _describe_filters(filters, person)
    parts = [f"{s['site_id']} ({', '.join(s['images'])}; average compliance {s['average_compliance']})" for s in site_list]
    if closest:
        relaxed_text = _describe_filters({k: v for k, v in filters.items() if k != "min_compliance"}, person)
        answer = (
            f"No scanned image shows {described}. The highest-scoring images with {relaxed_text} are at " + "; ".join(parts) + "."
        )
    elif rows:
        answer = f"{len(site_list)} site(s) with {described}: " + "; ".join(parts) + "."
    else:
        answer = f"No scanned image shows {described}."
    sources = []
    for r in rows:
        public = image_public(r)
        sources.append(
            {
                "image": {
                    key: public[key]
                    for key in (
                        "id",
                        "filename",
                        "site_id",
                        "device_type",
                        "compliance_score",
                        "persons",
                        "safety_compliance",
                        "description",
                        "reviewed",
                        "image_url",
                        "thumbnail_url",
                    )
                }
            }
        )
    clean_filters = {k: (sorted(v) if isinstance(v, list | set) else v) for k, v in filters.items()}
    return {
        "answer": answer,
        "sources": sources,
        "data": {"filters": clean_filters, "person": person, "sites": site_list, "count": len(rows), "closest_instead": closest},
    }


def _describe_filters(filters: dict, person: dict) -> str:
    what = ["people in view"]
    if filters.get("device_type"):
        what.insert(0, filters["device_type"].replace("_", " "))
    names = {"has_hard_hat": "hard hats", "has_safety_vest": "safety vests", "has_inspection_equipment": "a tablet or handheld"}
    for key, label in names.items():
        if filters.get(key) is False:
            what.append(f"someone without {label}")
        elif filters.get(key) is True and not person:
            what.append(f"with {label}")
    if person:
        items = {"hard_hat": "a hard hat", "safety_vest": "a safety vest", "inspection_equipment": "a tablet or handheld in hand"}
        what.append("a worker with " + " and ".join(items[a] for a in person))
    if filters.get("min_compliance") is not None:
        what.append(f"compliance >= {filters['min_compliance']:g}")
    if filters.get("max_compliance") is not None:
        what.append(f"compliance <= {filters['max_compliance']:g}")
    return ", ".join(what)
