"""The labelled evaluation set: seed images and altered copies made in code from the recipe.

``variants(split)`` yields ``(name, source, rgb, label)`` for the "train" or "held_out"
part, split by SOURCE image (an altered copy of a training image is never held out).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

FIXTURES = Path(__file__).parent / "fixtures"
RECIPE = json.loads((FIXTURES / "variants.json").read_text())
LABELS = json.loads((FIXTURES / "seed_labels.json").read_text())["images"]
SEED_IMAGES = Path(settings.SEED_DATA_DIR) / "images"
FLAGS = ("has_hard_hat", "has_safety_vest", "has_inspection_equipment")


def transform(rgb: np.ndarray, spec: dict) -> np.ndarray:
    out = rgb
    if spec.get("crop"):
        h, w = out.shape[:2]
        x0, y0, x1, y1 = spec["crop"]
        out = out[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
    if spec.get("mirror"):
        out = out[:, ::-1]
    if spec.get("scale"):
        interpolation = cv2.INTER_AREA if spec["scale"] < 1 else cv2.INTER_CUBIC
        out = cv2.resize(np.ascontiguousarray(out), None, fx=spec["scale"], fy=spec["scale"], interpolation=interpolation)
    if "gain" in spec or "offset" in spec or "channel_gain" in spec:
        f = out.astype(np.float32) * spec.get("gain", 1.0) + spec.get("offset", 0.0)
        f *= np.asarray(spec.get("channel_gain", (1.0, 1.0, 1.0)), np.float32)
        out = np.clip(f, 0, 255).astype(np.uint8)
    if spec.get("jpeg_quality"):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(out)).save(buf, "JPEG", quality=spec["jpeg_quality"])
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return np.ascontiguousarray(out)


def encode(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def variants(split: str) -> Iterator[tuple[str, str, np.ndarray, dict]]:
    held = set(RECIPE["held_out"])
    for source, label in LABELS.items():
        if (source in held) != (split == "held_out"):
            continue
        rgb = np.asarray(Image.open(SEED_IMAGES / source).convert("RGB"))
        for spec in RECIPE["transforms"]:
            yield f"{source} [{spec['name']}]", source, transform(rgb, spec), label
    for item in RECIPE["own_labels"]:
        if (item["source"] in held) != (split == "held_out"):
            continue
        rgb = np.asarray(Image.open(SEED_IMAGES / item["source"]).convert("RGB"))
        yield f"{item['source']} [{item['name']}]", item["source"], transform(rgb, item), item["label"]


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
