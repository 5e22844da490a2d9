"""Per-person regions and protective-equipment measurements on the pixels.

A person found by the detector gets a head region and a torso region: from the
pose landmarks where the pose model is sure of the person (eyes, ears and
shoulders placed), otherwise from the box geometry (head in the top fifth,
torso below it). Each region is then measured in HSV:

* hard hat: the dome above the eyes filled with one shell colour (white,
  yellow, orange, red, blue, green: saturated or bright and smooth), against
  hair, caps and skin (dark, brown, or skin-toned);
* hi-vis vest: fluorescent yellow-lime or orange fabric on the torso;
* handheld equipment: a detector object (laptop, monitor, book, camera) in
  front of the person, or a flat, even, rectangular patch at the wrists.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# HSV (OpenCV: H 0-180) ranges of hard-hat shells.
SHELL = (
    ((0, 0, 170), (180, 55, 255)),  # white (a little tint allowed: warm or cold light)
    ((15, 120, 120), (35, 255, 255)),  # yellow
    ((5, 150, 130), (15, 255, 255)),  # orange
    ((0, 150, 90), (5, 255, 255)),  # red
    ((170, 150, 90), (180, 255, 255)),  # red (wraps)
    ((95, 110, 70), (125, 255, 255)),  # blue
    ((40, 120, 80), (85, 255, 255)),  # green
)
SHELL_COLOURS = {
    "white": (SHELL[0],),
    "yellow": (SHELL[1],),
    "orange": (SHELL[2],),
    "red": (SHELL[3], SHELL[4]),
    "blue": (SHELL[5],),
    "green": (SHELL[6],),
}
# Fluorescent vest fabric (the yellow-lime and orange of EN ISO 20471). A change of light scales value but
# leaves hue and saturation, and a vest's folds and shaded side are darker than its lit front: so the
# saturation floor is fixed and the value floor is a share of the image's own bright level (95th percentile).
HIVIS_BANDS = (  # hue low, hue high, saturation floor, value floor as a share of the bright level
    (26, 44, 100, 0.4),  # yellow-lime (from 52 degrees: khaki, tan, wood and skin are more orange)
    (5, 16, 150, 0.6),  # orange: stricter, since skin, rust, wood and firelight are orange too
)
HIVIS_VALUE_MIN = 60  # below this value no colour is reliable (noise, deep shadow)
POSE_MIN = 0.5  # mean visibility of the head and shoulder landmarks below this: use the box geometry


@dataclass(frozen=True)
class Regions:
    head: tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels: where the head can be
    torso: tuple[int, int, int, int]
    source: str  # "pose" or "box"
    head_size: float  # expected head width in pixels


def normalise(rgb: np.ndarray) -> np.ndarray:
    """Undo most of a lighting change: grey-world colour balance (partial) and a gain to a mid brightness.

    Colour thresholds and the detector then see a re-lit copy much as they see the original.
    """
    small = rgb[::4, ::4].reshape(-1, 3).astype(np.float32)  # statistics from a sample: the same answer, cheaper
    means = small.mean(axis=0) + 1e-3
    balance = np.clip(means.mean() / means, 0.85, 1.15)
    luma = float((small * balance).mean())
    gain = balance * float(np.clip(118.0 / max(luma, 1.0), 0.75, 1.8))
    ramp = np.arange(256, dtype=np.float32)
    out = np.empty_like(rgb)
    for c in range(3):  # one lookup table per channel instead of float arithmetic on every pixel
        out[..., c] = cv2.LUT(rgb[..., c], np.clip(ramp * gain[c], 0, 255).astype(np.uint8))
    return out


def _mask(hsv: np.ndarray, ranges) -> np.ndarray:
    out = np.zeros(hsv.shape[:2], np.uint8)
    for lo, hi in ranges:
        out |= cv2.inRange(hsv, np.array(lo, np.uint8), np.array(hi, np.uint8))
    return out


def clip_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (round(v) for v in box)
    x0, x1 = max(0, min(x0, width - 1)), max(1, min(x1, width))
    y0, y1 = max(0, min(y0, height - 1)), max(1, min(y1, height))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def regions_from_box(box, width: int, height: int) -> Regions:
    """Standing-person proportions: head in the top fifth, torso to about 60 % of the box.

    A box cut by the image's bottom edge is a close-up (head and shoulders, or waist up): the head
    fills the top of the box and the torso is everything below it, down to the edge.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    truncated = y1 >= height - 2
    head_w = min(w, h) * (0.45 if truncated else 0.3)  # a close-up's head is a larger part of its box
    # Upright, bent or seen from the side, the head is somewhere in the upper half.
    head = (x0 - w * 0.05, y0 - h * 0.05, x1 + w * 0.05, y0 + h * 0.5)
    if truncated:  # below about half the box's shorter side is body, not head
        torso = (x0 + w * 0.1, y0 + min(w, h) * 0.5, x1 - w * 0.1, y1)
    else:
        torso = (x0 + w * 0.15, y0 + h * 0.2, x1 - w * 0.15, y0 + h * 0.6)
    return Regions(clip_box(head, width, height), clip_box(torso, width, height), "box", head_w)


def regions_from_pose(landmarks: np.ndarray, width: int, height: int, min_head: float = 0.0) -> Regions | None:
    """Head dome above the eyes and torso between shoulders and hips, from BlazePose landmarks in image pixels.

    None when the model does not see the head (its visibility of eyes, ears and shoulders is low).
    """
    if float(landmarks[[0, 2, 5, 7, 8, 11, 12], 3].mean()) < POSE_MIN:
        return None
    pts = landmarks[:, :2]
    eyes, ears, shoulders, hips = pts[[2, 5]], pts[[7, 8]], pts[[11, 12]], pts[[23, 24]]
    shoulder_w = float(np.linalg.norm(shoulders[0] - shoulders[1]))
    # In profile the ears and eyes fall on a line and their spread says nothing: ``min_head`` (from the box) holds.
    head_w = max(
        float(np.linalg.norm(ears[0] - ears[1])), float(np.linalg.norm(eyes[0] - eyes[1])) * 2.2, shoulder_w * 0.4, min_head
    )
    if head_w < 3:
        return None
    cx = float(np.mean([*ears[:, 0], *eyes[:, 0]]))
    eye_y = float(eyes[:, 1].mean())
    head = (cx - head_w * 0.8, eye_y - head_w * 1.3, cx + head_w * 0.8, eye_y)
    tx0, tx1 = float(min(shoulders[:, 0].min(), hips[:, 0].min())), float(max(shoulders[:, 0].max(), hips[:, 0].max()))
    if tx1 - tx0 < head_w * 1.5:  # side view or bent over: shoulders and hips in a line, the torso is still wide
        mid = (tx0 + tx1) / 2
        tx0, tx1 = mid - head_w * 0.75, mid + head_w * 0.75
    ty0, ty1 = float(shoulders[:, 1].min()), float(hips[:, 1].max())
    if ty1 - ty0 < head_w * 0.5:  # bent over or foreshortened: a box below the shoulders
        ty1 = ty0 + head_w * 2.5
    torso = (tx0, ty0, tx1, ty1)
    return Regions(clip_box(head, width, height), clip_box(torso, width, height), "pose", head_w)


def _dominant_shell(shares: list[float]) -> tuple[float, str | None]:
    """The single most common shell colour and its share, from ``_colour_shares``."""
    best: tuple[float, str | None] = (0.0, None)
    for name, share in zip(SHELL_COLOURS, shares, strict=True):
        if share > best[0]:
            best = (share, name)
    return best


def _colour_shares(pixels: np.ndarray) -> list[float]:
    """The share of ``pixels`` (N x 3 HSV, N > 0) in each shell colour, in ``SHELL_COLOURS`` order."""
    shares = []
    for ranges in SHELL_COLOURS.values():
        hit = np.zeros(len(pixels), bool)
        for lo, hi in ranges:
            hit |= np.all((pixels >= lo) & (pixels <= hi), axis=1)
        shares.append(float(hit.mean()))
    return shares


def _crown(mask: np.ndarray, regions: Regions) -> np.ndarray:
    """Box geometry: the silhouette's top strip (about half a head deep) in the upper part of the person."""
    x0, y0, x1, y1 = regions.head
    sil = mask[y0:y1, x0:x1] > 0
    out = np.zeros_like(mask, bool)
    rows = np.flatnonzero(sil.any(axis=1))
    if not len(rows):
        return out
    top = rows[0]
    cols = np.flatnonzero(sil[top : top + 2].any(axis=0))
    centre = int(cols.mean())
    half = int(regions.head_size * 0.8) + 1
    depth = int(regions.head_size * 0.6) + 2
    lx, rx = max(0, centre - half), min(sil.shape[1], centre + half)
    strip = sil[top : top + depth, lx:rx]
    out[y0 + top : y0 + top + strip.shape[0], x0 + lx : x0 + lx + strip.shape[1]] = strip
    return out


def hat_score(hsv: np.ndarray, mask: np.ndarray, regions: Regions) -> dict:
    """Share of the person's own pixels above the eyes (pose) or at the crown (box) in one shell colour.

    The silhouette keeps the wall behind a bare head out of the measurement.
    """
    if regions.source == "pose":
        x0, y0, x1, y1 = regions.head
        dome = np.zeros_like(mask, bool)
        dome[y0:y1, x0:x1] = mask[y0:y1, x0:x1] > 0
    else:
        dome = _crown(mask, regions)
    pixels = hsv[dome]
    if len(pixels) < 12:
        return {"score": 0.0, "colour": None, "pixels": len(pixels), "bare": 0.0, "measures": None}
    shares = _colour_shares(pixels)  # measured once: the rules' dominant colour and the model's inputs
    share, colour = _dominant_shell(shares)
    return {
        "score": share,
        "colour": colour,
        "pixels": len(pixels),
        "bare": _bare_share(pixels),
        "measures": dome_measures(pixels, shares),
    }


HUE_BANDS = 6  # 30-degree bands of OpenCV's 0-180 hue


def dome_measures(pixels: np.ndarray, shares: list[float]) -> list[float]:
    """What the learned hat model (``hat_model``) reads in a dome's pixels (N x 3 HSV), beside the rules' scores:
    the share in each shell colour (``shares``, from ``_colour_shares``); the mean hue, saturation and value and the spread of value; how many pixels;
    the share of saturated pixels in each hue band (a colour cast moves a shell out of its fixed colour range but
    not far in hue); the dark share and the dull-bright share."""
    h, s, v = pixels[:, 0].astype(int), pixels[:, 1].astype(int), pixels[:, 2].astype(int)
    saturated = (s >= 80) & (v >= 60)
    bands = np.bincount((h[saturated] // 30).clip(0, HUE_BANDS - 1), minlength=HUE_BANDS) / len(pixels)
    return [
        *shares,
        *(pixels.mean(axis=0) / 255).tolist(),
        float(v.std()) / 255,
        float(np.log1p(len(pixels))) / 8,
        *bands.tolist(),
        float((v < 60).mean()),
        float(((v >= 200) & (s < 60)).mean()),
    ]


def _bare_share(pixels: np.ndarray) -> float:
    """Share of the dome that looks like hair, a cloth cap or skin: the evidence FOR a bare head."""
    h, s, v = pixels[:, 0].astype(int), pixels[:, 1].astype(int), pixels[:, 2].astype(int)
    dark = v < 90  # dark hair, a black cap
    brown = (h <= 25) & (s >= 60) & (s <= 200) & (v < 200)  # brown or blond hair, skin (not tinted white)
    muted = (s < 60) & (v < 170)  # grey hair, a bald head in flat light: too dull for a white shell
    return float((dark | brown | muted).mean())


def helmet_blob(hsv: np.ndarray, mask: np.ndarray, box, head_size: float) -> dict:
    """The most helmet-like blob in the upper part of the person: one shell colour, about a head
    wide, compact, not white, and on the person. For people bent over or turned away, where the pose
    misplaces the head, and for close-ups, where the segmenter cuts the shell off the head: so a blob
    counts when it touches ``mask`` at all (the caller grows the silhouette by a halo for this). Asking for a
    tenth of the blob on it instead lost a bent-over worker's helmet whenever the segmenter's outline
    passed a few pixels short of it (under vignetting, a hue shift, gamma 0.7 or a crop).

    Score: the blob's fill of its bounding box times how close its width is to a head's. ``pixels``: the
    blob's (ys, xs) in the image.
    """
    x0, y0, x1, y1 = box
    upper = (y0, y0 + int((y1 - y0) * 0.45) + 1)
    patch = hsv[upper[0] : upper[1], x0:x1]
    own = mask[upper[0] : upper[1], x0:x1] > 0
    best = {"score": 0.0, "colour": None, "pixels": None, "on_person": 0.0}
    size = max(head_size, 4.0)
    for name, ranges in SHELL_COLOURS.items():
        if name == "white":
            continue  # white blobs on a body are shirts, coats and collars far more often than shells
        count, labels, stats, _ = cv2.connectedComponentsWithStats(_mask(patch, ranges), connectivity=8)
        for j, (_x, _y, bw, bh, area) in enumerate(stats[1:count], start=1):
            if not (0.5 * size <= bw <= 1.6 * size and 0.3 * size <= bh <= 1.3 * size and area >= 12):
                continue
            if not own[labels == j].any():
                continue
            fill = area / float(bw * bh)
            score = fill * (1.0 - 0.5 * min(1.0, abs(bw - size) / size))
            if score > best["score"]:
                ys, xs = np.nonzero(labels == j)
                on_person = float(own[ys, xs].mean())
                best = {"score": float(score), "colour": name, "pixels": (ys + upper[0], xs + x0), "on_person": on_person}
    return best


def hivis_mask(hsv: np.ndarray) -> np.ndarray:
    """Pixels of the whole image in fluorescent colours, judged against the image's own brightness."""
    bright = float(np.percentile(hsv[::4, ::4, 2], 95))
    out = np.zeros(hsv.shape[:2], np.uint8)
    for hue_lo, hue_hi, sat_min, value_share in HIVIS_BANDS:
        value_min = int(max(HIVIS_VALUE_MIN, value_share * bright))
        out |= cv2.inRange(hsv, np.array((hue_lo, sat_min, value_min), np.uint8), np.array((hue_hi, 255, 255), np.uint8))
    return out


OWN_MIN = 0.25  # the silhouette covers less of the torso region than this: it missed the body, use the region


def vest_share(hivis: np.ndarray, box, mask: np.ndarray | None = None) -> float:
    """Share of the torso (the person's own pixels where a silhouette is known) in fluorescent colours."""
    x0, y0, x1, y1 = box
    lit = hivis[y0:y1, x0:x1] > 0
    if mask is not None:
        own = mask[y0:y1, x0:x1] > 0
        if own.sum() >= 12 and own.mean() >= OWN_MIN:
            return float((lit & own).sum()) / float(own.sum())
    return float(lit.mean()) if lit.size else 0.0


def hands_region(box, width: int, height: int) -> tuple[int, int, int, int]:
    """Where held things are: the middle band of the person, a little wider than the body."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return clip_box((x0 - 0.15 * w, y0 + 0.25 * h, x1 + 0.15 * w, y0 + 0.85 * h), width, height)


def equipment_score(rgb: np.ndarray, hands, objects: list[dict]) -> dict:
    """The best handheld-looking thing at the hands: a detector object (laptop, monitor, book, camera)
    or a flat rectangle of one colour (a tablet, a clipboard). ``measurable`` is False when the
    region is too small to see a device in."""
    x0, y0, x1, y1 = hands
    best = {"score": 0.0, "what": None, "measurable": min(y1 - y0, x1 - x0) >= MIN_HANDS_SIDE}
    for obj in objects:
        ox0, oy0, ox1, oy1 = obj["box_px"]
        cx, cy = (ox0 + ox1) / 2, (oy0 + oy1) / 2
        if obj["handheld"] and x0 <= cx <= x1 and y0 <= cy <= y1 and obj["score"] > best["score"]:
            best = {**best, "score": float(obj["score"]), "what": obj["label"].lower()}
    if best["measurable"]:
        patch = rgb[y0:y1, x0:x1]
        shrink = KMEANS_MAX_SIDE / max(patch.shape[:2])
        if shrink < 1:  # a large frame's hands: k-means cost grows with every pixel, shapes survive at this size
            patch = cv2.resize(patch, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        # Several colour counts: a device stands out as one region at some granularity, not always the same one.
        rects = [r for colours in (3, 4, 5) for r in _one_colour_rectangles(patch, colours)]
        for rect in rects:
            score = 0.5 * rect["fill"] + 0.4 * rect["solidity"] - 0.05 * (rect["aspect"] - 1)
            if score > best["score"]:
                best = {**best, "score": round(float(score), 3), "what": "tablet or clipboard"}
    return best


KMEANS_MAX_SIDE = 240  # pixels; the seed images' hands regions are all smaller, so only large frames shrink
MIN_HANDS_SIDE = 60  # pixels: below this a tablet is a handful of pixels and cannot be told from a sleeve


def _one_colour_rectangles(patch: np.ndarray, colours: int = 3) -> list[dict]:
    """Regions of one colour (k-means in Lab) that fill their rotated rectangle: device-like shapes.

    At most one side may touch the region's edge (a tablet held at the side of the band).
    """
    h, w = patch.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(patch, (3, 3), 0), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(7)  # k-means seeding: the same image always gives the same answer
    criteria = (cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _compactness, labels, _centres = cv2.kmeans(lab, colours, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    labels = labels.reshape(h, w)
    out = []
    for colour in range(colours):
        mask = cv2.morphologyEx((labels == colour).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        count, components, stats, _ = cv2.connectedComponentsWithStats(mask)
        for j in range(1, count):
            x, y, bw, bh, area = stats[j]
            edges = int(x == 0) + int(y == 0) + int(x + bw >= w) + int(y + bh >= h)
            if not (0.06 * h * w <= area <= 0.45 * h * w) or edges > 1:
                continue
            contours, _ = cv2.findContours((components == j).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            (_cx, _cy), (rw, rh), _angle = cv2.minAreaRect(contours[0])
            fill = area / max(1.0, rw * rh)
            aspect = max(rw, rh) / max(1.0, min(rw, rh))
            solidity = area / max(1.0, cv2.contourArea(cv2.convexHull(contours[0])))
            if fill >= 0.7 and aspect <= 2.2 and solidity >= 0.85:
                out.append({"fill": min(1.0, float(fill)), "aspect": float(aspect), "solidity": min(1.0, float(solidity))})
    return out
