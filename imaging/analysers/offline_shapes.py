"""Box arithmetic and the flat-rectangle finder of the classic (OpenCV) analyser."""

from __future__ import annotations

import cv2
import numpy as np


def _frac(mask: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    H, W = mask.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return float(np.count_nonzero(mask[y0:y1, x0:x1])) / ((y1 - y0) * (x1 - x0))


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def _overlap(a, b) -> float:
    """Intersection over the smaller box: a helmet split in two halves still counts once."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, min(a[2] * a[3], b[2] * b[3]))


def _tablets(bgr: np.ndarray, gray: np.ndarray) -> list[dict]:
    """Hand-sized, nearly rectangular regions that are even inside: a screen, a tablet back, a clipboard."""
    H, W = gray.shape
    g = gray.astype(np.float32)
    mean = cv2.blur(g, (7, 7))
    local_sd = np.sqrt(np.maximum(cv2.blur(g * g, (7, 7)) - mean * mean, 0))
    edges = cv2.dilate(cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 40, 120), np.ones((3, 3), np.uint8))
    flat = ((local_sd < 9) & (edges == 0)).astype(np.uint8) * 255
    flat = cv2.morphologyEx(flat, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(flat, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        area = cv2.contourArea(c)
        if not (0.01 * H * W <= area <= 0.2 * H * W):
            continue
        (_cx, _cy), (rw, rh), _angle = cv2.minAreaRect(c)
        if min(rw, rh) < 6:
            continue
        fill = area / (rw * rh)
        aspect = max(rw, rh) / min(rw, rh)
        # Hands hold a device by its corners: allow up to half of its rectangle to be covered.
        if fill < 0.45 or aspect > 2.2:
            continue
        x, y, w, h = cv2.boundingRect(c)
        if x <= 1 or y <= 1 or x + w >= W - 2 or y + h >= H - 2:
            continue  # a flat patch cut by the frame is background (sky, wall, floor)
        inside = np.zeros_like(gray)
        cv2.drawContours(inside, [c], -1, 255, -1)
        sd = float(gray[inside > 0].std())
        out.append(
            {
                "box": (x, y, w, h),
                "evenness": round(max(0.0, 1 - sd / 30), 3),
                "fill": round(fill, 2),
                "brightness": round(float(gray[inside > 0].mean()), 1),
            }
        )
    return out
