"""Offline analyser: classical computer vision on the pixels, nothing downloaded.

Uses only what ships inside opencv-python-headless (Haar cascades in
``cv2.data.haarcascades``, the built-in HOG people detector) plus colour and
shape measurements:

* heads: Haar faces (frontal and profile, both directions) confirmed by skin
  colour, and helmet-shaped blobs (a compact, dome-like region of one helmet
  colour with skin just below it: the face under the brim);
* people: heads, plus HOG full bodies that contain no head;
* hard hat: a helmet blob that is the head, or helmet colour filling the dome
  above a face;
* hi-vis vest: fluorescent yellow/lime/orange pixels (HSV) on the torso below
  each head;
* tablet/handheld: a four-cornered, evenly coloured or screen-bright region
  near the hands (the lower torso area in front of the person);
* camera health: brightness, Laplacian variance (blur) and the share of the
  frame that is flat (covered lens).

Every number below is a threshold on a measurement, tuned by looking at the
seed images and their hand labels; none depends on the file name.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from imaging.analysers.base import DecodedImage, judgement
from imaging.analysers.camera import EMBEDDING_MODEL, embed_pixels
from imaging.analysers.camera import camera_health as _quality
from imaging.analysers.offline_shapes import _frac, _iou, _overlap, _tablets

NAME = "offline-cv"
WORK_SIDE = 400
BODY_MIN_WEIGHT = 0.9  # HOG SVM margin: below this, pipes and railings fire too  # analyse at this longest side: enough for faces, fast on 2 cores

# HSV ranges (OpenCV: H 0-180, S/V 0-255) for helmet shells.
HELMET_COLOURS: dict[str, list[tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
    "white": [((0, 0, 185), (180, 45, 255))],
    "yellow": [((18, 110, 130), (34, 255, 255))],
    "orange": [((5, 140, 140), (18, 255, 255))],
    "red": [((0, 150, 90), (5, 255, 255)), ((170, 150, 90), (180, 255, 255))],
    "blue": [((96, 90, 70), (125, 255, 255))],
}
# Fluorescent vest fabric: yellow-lime and orange, very saturated and bright.
HIVIS = [((28, 110, 70), (45, 255, 255)), ((5, 180, 170), (16, 255, 255))]

_local = threading.local()


def _detectors():
    """Cascades are not thread-safe; keep one set per thread."""
    if not hasattr(_local, "faces"):
        root = cv2.data.haarcascades
        _local.faces = [cv2.CascadeClassifier(root + "haarcascade_frontalface_alt2.xml")]
        _local.profile = cv2.CascadeClassifier(root + "haarcascade_profileface.xml")
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        _local.hog = hog
    return _local


@dataclass
class Head:
    box: tuple[int, int, int, int]  # x, y, w, h of the face (or of the space under a helmet)
    confidence: float
    source: str
    helmet: dict | None = None  # {"colour", "box", "confidence"}
    extra: dict = field(default_factory=dict)


def _mask(hsv: np.ndarray, ranges) -> np.ndarray:
    out = np.zeros(hsv.shape[:2], np.uint8)
    for lo, hi in ranges:
        out |= cv2.inRange(hsv, np.array(lo, np.uint8), np.array(hi, np.uint8))
    return out


def _skin(ycrcb: np.ndarray, hsv: np.ndarray) -> np.ndarray:
    cr_cb = cv2.inRange(ycrcb, np.array((35, 135, 77), np.uint8), np.array((250, 180, 127), np.uint8))
    hue = cv2.inRange(hsv, np.array((0, 25, 45), np.uint8), np.array((25, 220, 255), np.uint8))
    hue |= cv2.inRange(hsv, np.array((150, 25, 45), np.uint8), np.array((180, 220, 255), np.uint8))
    mask = cr_cb & hue
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _faces(gray: np.ndarray, skin: np.ndarray) -> list[Head]:
    det = _detectors()
    # Cascades are the slowest step: run them at 0.6x (faces under ~20 px are out of their reach anyway).
    k = 0.6
    small = cv2.resize(gray, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    min_side = max(12, int(min(small.shape) * 0.06))
    found: list[tuple[tuple[int, int, int, int], str]] = []

    def add(boxes, source, flipped=False):
        for x, y, w, h in boxes if len(boxes) else []:
            x = small.shape[1] - x - w if flipped else x
            found.append(((int(x / k), int(y / k), int(w / k), int(h / k)), source))

    for cascade in det.faces:
        add(cascade.detectMultiScale(small, scaleFactor=1.2, minNeighbors=4, minSize=(min_side, min_side)), "face")
    for flipped in (False, True):
        img = cv2.flip(small, 1) if flipped else small
        add(det.profile.detectMultiScale(img, scaleFactor=1.2, minNeighbors=4, minSize=(min_side, min_side)), "profile", flipped)
    heads: list[Head] = []
    for box, source in found:
        x, y, w, h = box
        # A face has skin in its middle: machinery patterns that fool a cascade mostly do not.
        skin_share = _frac(skin, x + w // 4, y + h // 4, w // 2, h // 2)
        if skin_share < 0.3:
            continue
        conf = 0.45 + 0.5 * min(1.0, skin_share)
        for other in heads:
            if _iou(other.box, box) > 0.3:
                other.confidence = min(0.97, max(other.confidence, conf) + 0.05)
                break
        else:
            heads.append(Head(box=box, confidence=conf, source=source))
    return heads


def _helmets(hsv: np.ndarray, skin: np.ndarray, hivis: np.ndarray) -> list[dict]:
    H, W = skin.shape
    area_img = H * W
    out = []
    kernel = np.ones((3, 3), np.uint8)
    for colour, ranges in HELMET_COLOURS.items():
        mask = cv2.morphologyEx(_mask(hsv, ranges), cv2.MORPH_OPEN, kernel)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            area = cv2.contourArea(c)
            if not (0.0008 * area_img <= area <= 0.15 * area_img):
                continue
            x, y, w, h = cv2.boundingRect(c)
            if y <= 1 or y + h >= H - 2 or x <= 1 or x + w >= W - 2:
                continue  # cut by the frame edge: a lamp, the sky or a floor, not a head we can see
            aspect = w / h
            if not (0.9 <= aspect <= 2.6):
                continue
            hull = cv2.contourArea(cv2.convexHull(c))
            solidity = area / hull if hull else 0
            extent = area / (w * h)
            if solidity < 0.75 or not (0.45 <= extent <= 0.9):
                continue
            # Dome: the top third is narrower than the middle (a brim-down cap, not a bar or a box).
            blob = np.zeros((h, w), np.uint8)
            cv2.drawContours(blob, [c - [x, y]], -1, 255, -1)
            top = np.count_nonzero(blob[: max(1, h // 4)]) / max(1, w * max(1, h // 4))
            mid = np.count_nonzero(blob[h // 3 : 2 * h // 3]) / max(1, w * max(1, h // 3))
            if top > 0.85 * mid:
                continue
            # Skin just under the shell: the face. Without it this is a lamp or a tank.
            below = _frac(skin, x + w // 6, y + h, (2 * w) // 3, int(h * 1.1))
            vest_below = _frac(hivis, x - w, y + h, 3 * w, 3 * h)
            # A tiny shell needs a clear face under it; a bigger one a face or a vest below.
            need_skin = 0.35 if area < 0.003 * area_img else 0.18
            if below < need_skin and vest_below < 0.06:
                continue
            # Same colour all around means a painted surface, not an object on a head.
            ring = _frac(mask, x - w // 2, y - h, 2 * w, h) if y - h >= 0 else 0.0
            if ring > 0.35:
                continue
            conf = (
                0.35
                + 0.3 * min(1.0, max(below / 0.4, vest_below / 0.5))
                + 0.2 * (solidity - 0.75) / 0.25
                + 0.1 * (1 - top / max(mid, 1e-3))
            )
            out.append(
                {
                    "colour": colour,
                    "box": (x, y, w, h),
                    "confidence": min(0.95, conf),
                    "skin_below": round(below, 3),
                    "vest_below": round(vest_below, 3),
                    "debug": (
                        round(area / area_img, 4),
                        round(solidity, 2),
                        round(extent, 2),
                        round(top / max(mid, 1e-3), 2),
                        round(below, 2),
                        round(vest_below, 2),
                        round(ring, 2),
                    ),
                }
            )
    # Overlapping candidates of different colours: keep the most confident.
    out.sort(key=lambda d: -d["confidence"])
    kept: list[dict] = []
    for cand in out:
        if all(_overlap(cand["box"], k["box"]) < 0.3 for k in kept):
            kept.append(cand)
    return kept


def _hat_above_face(hsv: np.ndarray, box) -> dict | None:
    x, y, w, h = box
    best = None
    for colour, ranges in HELMET_COLOURS.items():
        share = _frac(_mask(hsv, ranges), x - w // 8, y - int(h * 0.55), w + w // 4, int(h * 0.6))
        if share > 0.4 and (best is None or share > best["share"]):
            best = {"colour": colour, "share": share, "box": (x - w // 8, y - int(h * 0.55), w + w // 4, int(h * 0.6))}
    if best is None:
        return None
    return {"colour": best["colour"], "box": best["box"], "confidence": min(0.9, 0.4 + best["share"] * 0.6)}


def _bodies(bgr: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """HOG people at a working size where a standing worker is taller than the 128-pixel window."""
    k = 560 / max(bgr.shape[:2])
    img = cv2.resize(bgr, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR) if k > 1 else bgr
    k = k if k > 1 else 1.0
    rects, weights = _detectors().hog.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.1)
    return [
        (tuple(int(v / k) for v in r), float(wt)) for r, wt in zip(rects, np.ravel(weights), strict=False) if wt > BODY_MIN_WEIGHT
    ]


def _describe(persons: int, people: list[dict], quality: dict, hsv: np.ndarray) -> tuple[str, list[str]]:
    keywords: list[str] = []
    hats = sum(1 for p in people if p["hard_hat"]["value"])
    vests = sum(1 for p in people if p["safety_vest"]["value"])
    tools = sum(1 for p in people if p["inspection_equipment"]["value"])
    if persons == 0:
        parts = ["No people in view"]
        keywords.append("unattended equipment")
    else:
        parts = [f"{persons} worker{'s' if persons != 1 else ''} in view"]
        keywords += ["worker", "people"]
        if hats:
            parts.append(f"{hats} wearing a hard hat")
            keywords.append("hard hat")
        if persons - hats:
            parts.append(f"{persons - hats} without a hard hat")
            keywords.append("no hard hat")
        if vests:
            parts.append(f"{vests} in a hi-vis vest")
            keywords.append("safety vest")
        if tools:
            parts.append(f"{tools} holding a tablet or handheld device")
            keywords += ["tablet", "inspection"]
    colours = [
        name
        for name, ranges in (
            ("yellow", HELMET_COLOURS["yellow"]),
            ("blue", HELMET_COLOURS["blue"]),
            ("red", HELMET_COLOURS["red"]),
        )
        if np.count_nonzero(_mask(hsv, ranges)) > 0.15 * hsv.shape[0] * hsv.shape[1]
    ]
    keywords += [f"{c} machinery" for c in colours]
    keywords.append("industrial site")
    keywords.append("indoor" if hsv[: hsv.shape[0] // 4, ..., 0].mean() > 0 and _sky_share(hsv) < 0.1 else "outdoor")
    for problem in quality["problems"]:
        parts.append(f"camera: {problem}")
        keywords.append(problem)
    return "; ".join(parts) + ".", keywords


def _sky_share(hsv: np.ndarray) -> float:
    top = hsv[: hsv.shape[0] // 4]
    sky = cv2.inRange(top, np.array((90, 20, 150), np.uint8), np.array((130, 120, 255), np.uint8))
    return float(np.count_nonzero(sky)) / sky.size


def analyse_pixels(image: DecodedImage) -> dict:
    """Measure people, hard hats, vests, handheld devices and camera health."""
    rgb = image.rgb
    scale = WORK_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    H, W = gray.shape
    quality = _quality(gray, hsv)
    skin = _skin(ycrcb, hsv)
    eq_gray = cv2.equalizeHist(gray)

    heads = _faces(eq_gray, skin)
    hivis = cv2.morphologyEx(_mask(hsv, HIVIS), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    for helmet in _helmets(hsv, skin, hivis):
        hx, hy, hw, hh = helmet["box"]
        for head in heads:
            fx, fy, fw, fh = head.box
            # The face sits under the helmet: centres aligned, face top near the shell bottom.
            if abs((fx + fw / 2) - (hx + hw / 2)) < hw * 0.6 and hy - fh * 0.3 <= fy <= hy + hh + fh * 0.6:
                if head.helmet is None or helmet["confidence"] > head.helmet["confidence"]:
                    head.helmet = helmet
                break
        else:
            face_box = (hx + hw // 6, hy + hh, (2 * hw) // 3, int(hh * 1.1))
            heads.append(Head(box=face_box, confidence=helmet["confidence"], source="helmet", helmet=helmet))
    for head in heads:
        if head.helmet is None:
            head.helmet = _hat_above_face(hsv, head.box)

    for (bx, by, bw, bh), weight in _bodies(bgr):
        if any(bx <= h.box[0] + h.box[2] / 2 <= bx + bw and by <= h.box[1] <= by + bh * 0.5 for h in heads):
            continue
        fake_head = (bx + bw // 3, by + bh // 12, bw // 3, bh // 7)
        heads.append(Head(box=fake_head, confidence=min(0.8, 0.3 + weight / 4), source="body"))

    shells = [h.helmet["box"] for h in heads if h.helmet]
    # A flat patch that is a helmet shell, or dark (a shadow, an ear cup), is not a device in hand.
    tablets = [t for t in _tablets(bgr, gray) if t["brightness"] >= 60 and all(_overlap(t["box"], b) < 0.3 for b in shells)]
    people = []
    for head in heads:
        x, y, w, h = head.box
        top = head.helmet["box"][1] if head.helmet else y
        # Torso: from the chin to about three head-heights down, about three heads wide.
        tx, ty, tw, th = int(x + w / 2 - 1.6 * w), int(y + 1.1 * h), int(3.2 * w), int(2.6 * h)
        vest_share = _frac(hivis, tx, ty, tw, th)
        if head.helmet and head.helmet.get("vest_below", 0) >= 0.06:
            # Bent over or turned away, the torso is off to one side: the shell's own look-around counts.
            vest_share = max(vest_share, 2 * head.helmet["vest_below"])
        has_vest = vest_share > 0.12
        vest_conf = 0.55 + 0.4 * min(1.0, abs(vest_share - 0.12) / 0.12)
        # Hands: in front of the torso, down to about four head-heights below the chin.
        zone = (int(x + w / 2 - 2.5 * w), int(y + 0.8 * h), int(5 * w), int(4 * h))
        tool = None
        for t in tablets:
            cx, cy = t["box"][0] + t["box"][2] / 2, t["box"][1] + t["box"][3] / 2
            inside = zone[0] <= cx <= zone[0] + zone[2] and zone[1] <= cy <= zone[1] + zone[3]
            sized = t["box"][2] * t["box"][3] <= 9 * w * h
            if inside and sized and (tool is None or t["evenness"] > tool["evenness"]):
                tool = t
        hat_conf = head.helmet["confidence"] if head.helmet else 0.5 + 0.35 * head.confidence
        people.append(
            {
                "box": [round(x / W, 3), round(min(top, y) / H, 3), round(w / W, 3), round((y + h - min(top, y)) / H, 3)],
                "confidence": round(head.confidence, 3),
                "found_by": head.source,
                "hard_hat": {
                    **judgement(head.helmet is not None, hat_conf),
                    "colour": head.helmet["colour"] if head.helmet else None,
                },
                "safety_vest": {**judgement(has_vest, vest_conf), "hivis_share": round(vest_share, 3)},
                "inspection_equipment": judgement(tool is not None, 0.5 + 0.4 * tool["evenness"] if tool else 0.6),
            }
        )

    persons = len(people)
    person_conf = float(np.mean([p["confidence"] for p in people])) if people else (0.6 if not quality["problems"] else 0.4)
    flags = {}
    for key, attr, combine in (
        ("has_hard_hat", "hard_hat", all),
        ("has_safety_vest", "safety_vest", all),
        ("has_inspection_equipment", "inspection_equipment", any),
    ):
        if not people:
            flags[key] = judgement(None, person_conf)
            continue
        values = [p[attr]["value"] for p in people]
        flags[key] = judgement(combine(values), min(p[attr]["confidence"] for p in people))
    description, keywords = _describe(persons, people, quality, hsv)
    return {
        "provider": NAME,
        "width": image.width,
        "height": image.height,
        "description": description,
        "keywords": keywords,
        "persons": judgement(persons, person_conf),
        "people": people,
        **flags,
        "quality": quality,
    }


class OfflineAnalyser:
    """The default provider."""

    name = NAME

    def analyse(self, image: DecodedImage) -> dict:
        return analyse_pixels(image)

    def embed(self, image: DecodedImage, analysis: dict) -> tuple[list[float], str]:
        return embed_pixels(image), EMBEDDING_MODEL
