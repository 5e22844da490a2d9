"""What both offline analysers share: camera health and the image embedding.

Thresholds were set on frames at most 400 pixels on the longest side (``QUALITY_SIDE``):
the Laplacian variance depends on scale, so measure at that size.
"""

from __future__ import annotations

import cv2
import numpy as np

from imaging.analysers.base import DecodedImage

EMBEDDING_MODEL = "offline-hsv-hog-v1"
QUALITY_SIDE = 400


def camera_health(gray: np.ndarray, hsv: np.ndarray) -> dict:
    """Too dark, blurred, lens covered: brightness, Laplacian variance and the flat share, with a confidence."""
    brightness = float(hsv[..., 2].mean())
    contrast = float(gray.std())
    lap = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    # Flat share: pixels whose 15x15 neighbourhood barely varies (tape, a lens cap, a wall of fog).
    g = gray.astype(np.float32)
    mean = cv2.blur(g, (15, 15))
    var = cv2.blur(g * g, (15, 15)) - mean * mean
    coverage = float(np.count_nonzero(var < 6.0)) / var.size
    too_dark = brightness < 45
    blurred = lap < 40
    covered = coverage > 0.6
    problems = [name for name, bad in (("too dark", too_dark), ("blurred", blurred), ("lens covered", covered)) if bad]
    # Confidence grows with the distance from the nearest threshold.
    margins = [abs(brightness - 45) / 45, abs(np.log10(max(lap, 1e-3)) - np.log10(40)), abs(coverage - 0.6) / 0.6]
    return {
        "brightness": round(brightness, 1),
        "contrast": round(contrast, 1),
        "blur_variance": round(lap, 1),
        "coverage": round(coverage, 3),
        "too_dark": too_dark,
        "blurred": blurred,
        "covered": covered,
        "ok": not problems,
        "problems": problems,
        "confidence": round(min(0.99, 0.5 + 0.5 * min(1.0, min(margins))), 3),
    }


def embed_pixels(image: DecodedImage) -> list[float]:
    """Image features: HSV colour histogram + gradient-orientation grid + tiny thumbnail, L2-normalised.

    Each block is normalised first so colour, edges and layout weigh the same.
    """
    rgb = cv2.resize(image.rgb, (128, 128), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    colour = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    mag, ang = cv2.cartToPolar(gx, gy, angleInDegrees=True)
    bins = (np.mod(ang, 180) // 22.5).astype(np.int32)  # 8 unsigned orientations
    grad = np.zeros((4, 4, 8), np.float32)
    for i in range(4):
        for j in range(4):
            cell_b = bins[i * 32 : (i + 1) * 32, j * 32 : (j + 1) * 32].ravel()
            cell_m = mag[i * 32 : (i + 1) * 32, j * 32 : (j + 1) * 32].ravel()
            grad[i, j] = np.bincount(cell_b, weights=cell_m, minlength=8)[:8]
    thumb = cv2.resize(gray, (8, 8), interpolation=cv2.INTER_AREA).ravel()
    thumb = thumb - thumb.mean()
    blocks = [np.sqrt(colour), grad.ravel(), thumb]
    parts = [b / (np.linalg.norm(b) or 1.0) for b in blocks]
    vec = np.concatenate(parts)
    vec /= np.linalg.norm(vec) or 1.0
    return [round(float(v), 6) for v in vec]
