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

import cv2
import numpy as np
from django.conf import settings
from PIL import Image
from pypdf import PdfReader

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
    if spec.get("rotate"):
        h, w = out.shape[:2]
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), spec["rotate"], 1.0)
        out = cv2.warpAffine(np.ascontiguousarray(out), turn, (w, h), borderMode=cv2.BORDER_REFLECT)
    if spec.get("shear"):
        h, w = out.shape[:2]
        skew = np.float32([[1, spec["shear"], -spec["shear"] * h / 2], [0, 1, 0]])
        out = cv2.warpAffine(np.ascontiguousarray(out), skew, (w, h), borderMode=cv2.BORDER_REFLECT)
    if spec.get("perspective"):  # a keystone: the top edge drawn in, as from a camera tilted up at a tall machine
        h, w = out.shape[:2]
        inset = spec["perspective"] * w
        corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        drawn = np.float32([[inset, 0], [w - inset, 0], [w, h], [0, h]])
        warp = cv2.getPerspectiveTransform(corners, drawn)
        out = cv2.warpPerspective(np.ascontiguousarray(out), warp, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if spec.get("pixelate"):  # a low-resolution camera's copy blown back up
        h, w = out.shape[:2]
        small = cv2.resize(
            np.ascontiguousarray(out),
            (max(1, w // spec["pixelate"]), max(1, h // spec["pixelate"])),
            interpolation=cv2.INTER_AREA,
        )
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if spec.get("blur"):
        out = cv2.GaussianBlur(out, (0, 0), spec["blur"])
    if spec.get("motion_blur"):
        out = cv2.filter2D(out, -1, np.full((1, spec["motion_blur"]), 1.0 / spec["motion_blur"], np.float32))
    if spec.get("sharpen"):
        soft = cv2.GaussianBlur(out, (0, 0), 1.5)
        out = cv2.addWeighted(out, 1 + spec["sharpen"], soft, -spec["sharpen"], 0)
    if "gain" in spec or "offset" in spec or "channel_gain" in spec:
        f = out.astype(np.float32) * spec.get("gain", 1.0) + spec.get("offset", 0.0)
        f *= np.asarray(spec.get("channel_gain", (1.0, 1.0, 1.0)), np.float32)
        out = np.clip(f, 0, 255).astype(np.uint8)
    if spec.get("gamma"):
        ramp = (np.arange(256) / 255.0) ** spec["gamma"] * 255.0
        out = cv2.LUT(np.ascontiguousarray(out), np.clip(ramp, 0, 255).astype(np.uint8))
    if spec.get("saturation") or spec.get("contrast"):
        f = out.astype(np.float32)
        grey = f.mean(axis=2, keepdims=True)
        f = grey + (f - grey) * spec.get("saturation", 1.0)
        f = f.mean() + (f - f.mean()) * spec.get("contrast", 1.0)
        out = np.clip(f, 0, 255).astype(np.uint8)
    if spec.get("haze"):  # a veil of bright, grey air: contrast and saturation fall, shadows lift
        out = np.clip(out.astype(np.float32) * (1 - spec["haze"]) + 200.0 * spec["haze"], 0, 255).astype(np.uint8)
    if spec.get("vignette"):  # corners darker than the centre, as through a cheap wide lens
        h, w = out.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)
        out = np.clip(out * (1 - spec["vignette"] * r**2)[..., None], 0, 255).astype(np.uint8)
    if spec.get("hue_shift"):  # OpenCV hue units (2 degrees each): a white balance a little off
        hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(int) + spec["hue_shift"]) % 180).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if spec.get("posterize"):  # each channel kept to a few bits, as from a cheap encoder
        step = 2 ** (8 - spec["posterize"])
        out = (out // step * step + step // 2).astype(np.uint8)
    if spec.get("noise"):
        rng = np.random.default_rng(20261130)  # fixed: the same copy on every run
        out = np.clip(out + rng.normal(0, spec["noise"], out.shape), 0, 255).astype(np.uint8)
    if spec.get("jpeg_quality"):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(out)).save(buf, "JPEG", quality=spec["jpeg_quality"])
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return np.ascontiguousarray(out)


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
