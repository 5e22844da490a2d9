"""The labelled evaluation set: seed images and altered copies made in code from the recipe.

``variants(split)`` yields ``(name, source, rgb, label)`` for the "train" or "held_out"
part, split by SOURCE image (an altered copy of a training image is never held out).
``report_photos(split)`` yields real photographs from the annual report in seed-data.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image
from pypdf import PdfReader

from imaging.alterations import transform

FIXTURES = Path(__file__).parent / "fixtures"
RECIPE = json.loads((FIXTURES / "variants.json").read_text())
LABELS = json.loads((FIXTURES / "seed_labels.json").read_text())["images"]
SEED_IMAGES = Path(settings.SEED_DATA_DIR) / "images"
FLAGS = ("has_hard_hat", "has_safety_vest", "has_inspection_equipment")


def encode(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def variants(split: str, alterations: str = "transforms") -> Iterator[tuple[str, str, np.ndarray, dict]]:
    """``alterations``: "transforms" (the first set, with the hand-labelled crops), "unseen_transforms" (the
    second set), "second_unseen_transforms" (the third) or "third_unseen_transforms" (the fourth): see the recipe
    for what each was used for."""
    held = set(RECIPE["held_out"])
    for source, label in LABELS.items():
        if (source in held) != (split == "held_out"):
            continue
        rgb = np.asarray(Image.open(SEED_IMAGES / source).convert("RGB"))
        for spec in RECIPE[alterations]:
            yield f"{source} [{spec['name']}]", source, transform(rgb, spec), label
    if alterations != "transforms":
        return
    for item in RECIPE["own_labels"]:
        if (item["source"] in held) != (split == "held_out"):
            continue
        rgb = np.asarray(Image.open(SEED_IMAGES / item["source"]).convert("RGB"))
        yield f"{item['source']} [{item['name']}]", item["source"], transform(rgb, item), item["label"]


def report_photos(split: str | None = None) -> Iterator[tuple[str, np.ndarray, dict]]:
    """Real photographs from the annual report in seed-data, read from the PDF (never copied), with hand labels;
    ``split`` "train" or "held_out" (None: all)."""
    recipe = json.loads((FIXTURES / "report_photos.json").read_text())
    reader = PdfReader(Path(settings.SEED_DATA_DIR) / recipe["document"])
    for photo in recipe["photos"]:
        if split and photo["split"] != split:
            continue
        image = reader.pages[photo["page"] - 1].images["/" + Path(photo["name"]).stem]  # only this image is decoded
        assert hashlib.sha256(image.data).hexdigest()[:16] == photo["sha256_16"], photo  # the same photograph
        yield f"report p{photo['page']} {photo['name']}", np.asarray(image.image.convert("RGB")), photo["label"]


def score(analyses: list[tuple[dict, dict]]) -> dict:
    """Per-attribute accuracy; flags are scored where the label says something (not null).

    ``accuracy`` counts an "unknown" as wrong; ``accuracy_when_sure`` leaves it out; ``unknown`` counts them;
    ``coverage`` is the share of judgements that were confident (``accuracy_when_sure`` is only worth as much).
    """
    rows = {"person present": [], "exact count": [], **{f: [] for f in FLAGS}}
    for analysis, label in analyses:
        persons = analysis["persons"]["value"]
        rows["person present"].append((persons > 0) == (label["persons"] > 0))
        rows["exact count"].append(persons == label["persons"])
        for flag in FLAGS:
            if label[flag] is None or label["persons"] == 0:
                continue
            got = analysis[flag]["value"] if persons else None
            rows[flag].append(None if got is None else got == label[flag])
    table = {}
    for name, hits in rows.items():
        sure = [h for h in hits if h is not None]
        table[name] = {
            "n": len(hits),
            "accuracy": round(sum(bool(h) for h in hits) / len(hits), 3) if hits else None,
            "accuracy_when_sure": round(sum(sure) / len(sure), 3) if sure else None,
            "unknown": len(hits) - len(sure),
            "coverage": round(len(sure) / len(hits), 3) if hits else None,
        }
    return table
