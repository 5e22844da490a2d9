"""The public shape of an image record: what the API, the gallery and answers show."""

from __future__ import annotations

FLAGS = ("has_hard_hat", "has_safety_vest", "has_inspection_equipment")


def compliance_view(record: dict) -> dict:
    """The flags and score, plus ``uncertain``: flags the analyser was not sure of (people in view, no value)."""
    sc = dict(record.get("safety_compliance") or {})
    sc["uncertain"] = [f for f in FLAGS if (record.get("persons") or 0) > 0 and sc.get(f) is None]
    return sc


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
        "safety_compliance": compliance_view(record),
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
