"""The public shape of an image record: what the API, the gallery and answers show."""

from __future__ import annotations


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
