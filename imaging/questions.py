"""Natural-language questions about site images: parse, select, answer in words with sources.

``images_answer_question`` is what the query router (``/api/query``,
``manage.py ask``) calls; ``imaging.selectors`` re-exports it.
"""

from __future__ import annotations

import re

from imaging.compliance import WEIGHTS
from imaging.records import image_public
from imaging.stores import ImageStore, store_default
from telemetry.device_types import SITES

HIGH_COMPLIANCE = 70.0  # "high safety compliance": hat plus vest or equipment, on average
LOW_COMPLIANCE = 40.0

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
    # Only confident judgements count: an "unknown" (None) is neither a yes nor a no.
    return any(all((p.get(a) or {}).get("value") is want for a, want in person.items()) for p in record.get("people") or [])


def _best_case_score(record: dict) -> float:
    """The compliance score if every attribute the analyser was unsure of turned out present."""
    sc = record.get("safety_compliance") or {}
    unsure = [k for k in WEIGHTS if sc.get(k) is None]  # stored records keep the flags, not the list
    decided_weight = sum(WEIGHTS.values()) - sum(WEIGHTS[k] for k in unsure)
    decided = (sc.get("compliance_score") or 0) * decided_weight / 100
    return decided + sum(WEIGHTS[k] for k in unsure)


FLAG_ATTR = {"has_hard_hat": "hard_hat", "has_safety_vest": "safety_vest", "has_inspection_equipment": "inspection_equipment"}


def _uncertain(store: ImageStore, filters: dict, person: dict, matched: list[dict]) -> list[dict]:
    """Images that fit the rest of the question but whose relevant judgement is "unknown": not counted, named."""
    asked = [k for k in FLAG_ATTR if k in filters] + [k for k, a in FLAG_ATTR.items() if a in person]
    if filters.get("min_compliance") is not None or filters.get("max_compliance") is not None:
        asked = list(FLAG_ATTR)
    if not asked:
        return []
    relaxed = {k: v for k, v in filters.items() if k not in FLAG_ATTR and k not in ("min_compliance", "max_compliance")}
    _total, rows = store.find(relaxed, limit=1000)
    seen = {r["id"] for r in matched}
    return [
        r
        for r in rows
        if r["id"] not in seen
        and (r.get("persons") or 0) > 0
        and any((r.get("safety_compliance") or {}).get(k) is None for k in asked)
    ]


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
        # A crew wearing nothing protective (score 0) is not "closest to high compliance": name none then.
        scored = [r for r in candidates if ((r.get("safety_compliance") or {}).get("compliance_score") or 0) > 0]
        if scored:
            best = max(r["safety_compliance"]["compliance_score"] for r in scored)
            top = [r for r in scored if r["safety_compliance"]["compliance_score"] == best]
            top_ids = {r["id"] for r in top}
            # "Closest" is claimed only when no other image, uncertain on something, could outscore it once reviewed.
            if not any(_best_case_score(r) > best for r in candidates if r["id"] not in top_ids):
                rows, closest = top, True
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
    uncertain = _uncertain(store, filters, person, rows)
    if uncertain:
        answer += (
            f" {len(uncertain)} image(s) with people were uncertain on this (the analyser was not sure) and are not"
            f" counted: {', '.join(sorted(r['filename'] for r in uncertain))}; a review decides them."
        )
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
        "data": {
            "filters": clean_filters,
            "person": person,
            "sites": site_list,
            "count": len(rows),
            "closest_instead": closest,
            "uncertain": len(uncertain),
            "uncertain_images": sorted(r["filename"] for r in uncertain),
        },
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
