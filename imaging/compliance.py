"""From an analysis and a person's review to the values every reader sees.

The seed weights a hard hat 40, a vest 30 and inspection equipment 30. The
score is the average over the people in view (a crew of two with one hat
scores 20 for hats, not 40); nobody in view means no score at all, never 0.
A reviewed value always wins over the analyser's.

A person's judgement may be ``None`` ("unknown": the analyser was not sure).
Unknowns are left out: a flag is decided by the confident judgements when they
settle it (one sure bare head makes "every worker wears a hat" false) and is
``None`` otherwise; the score is computed over the decided attributes only
(re-weighted to 100) and ``uncertain`` names the attributes left out.
"""

from __future__ import annotations

WEIGHTS = {"has_hard_hat": 40, "has_safety_vest": 30, "has_inspection_equipment": 30}
PERSON_ATTR = {"has_hard_hat": "hard_hat", "has_safety_vest": "safety_vest", "has_inspection_equipment": "inspection_equipment"}
REVIEWABLE = ("persons", "has_hard_hat", "has_safety_vest", "has_inspection_equipment", "description", "keywords", "site_id")


def _value(judgement):
    return judgement.get("value") if isinstance(judgement, dict) else judgement


def _combine(key: str, sure: list[bool], unknown: int) -> bool | None:
    """Hats and vests: every worker wears one. Equipment: someone holds it. None when unknowns decide."""
    if key == "has_inspection_equipment":
        return True if any(sure) else (False if sure and not unknown else None)
    return False if not all(sure) else (True if sure and not unknown else None)


def compliance_compute(analysis: dict, review: dict) -> dict:
    """Effective persons, flags and score: ``{persons, safety_compliance{..., uncertain}}``."""
    people = analysis.get("people") or []
    persons = review["persons"] if "persons" in review else _value(analysis.get("persons")) or 0
    if not persons:
        flags = {key: None for key in WEIGHTS}
        return {"persons": 0, "safety_compliance": {**flags, "compliance_score": None}}
    use_people = len(people) == persons
    fractions, flags = {}, {}
    for key, attr in PERSON_ATTR.items():
        if key in review and review[key] is not None:
            flag = bool(review[key])
            fraction = 1.0 if flag else 0.0
        elif use_people:
            values = [_value(p.get(attr)) for p in people]
            sure = [bool(v) for v in values if v is not None]
            flag = _combine(key, sure, len(values) - len(sure))
            fraction = sum(sure) / len(sure) if sure else None
        else:
            # The count was corrected by hand: the analyser's image-level flag (nobody seen = no).
            flag = bool(_value(analysis.get(key)))
            fraction = 1.0 if flag else 0.0
        fractions[key], flags[key] = fraction, flag
    uncertain = [key for key in WEIGHTS if flags[key] is None]
    decided = {key: f for key, f in fractions.items() if f is not None and key not in uncertain}
    weight = sum(WEIGHTS[k] for k in decided)
    score = round(sum(WEIGHTS[k] * f for k, f in decided.items()) * 100 / weight, 1) if weight else None
    return {"persons": int(persons), "safety_compliance": {**flags, "compliance_score": score, "uncertain": uncertain}}


def record_effective(*, analysis: dict, review: dict, site_id: str) -> dict:
    """The denormalised fields of a record, recomputed after every analysis or review."""
    computed = compliance_compute(analysis, review)
    return {
        "persons": computed["persons"],
        "safety_compliance": computed["safety_compliance"],
        "description": review.get("description", analysis.get("description", "")),
        "keywords": review.get("keywords", analysis.get("keywords", [])),
        "site_id": review.get("site_id", site_id),
        "quality": analysis.get("quality", {}),
        "people": analysis.get("people", []),
        "reviewed": bool(review),
    }
