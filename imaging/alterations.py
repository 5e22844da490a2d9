"""Altered copies of a picture: what a worse camera, other light or another framing would have given.

``transform(rgb, spec)`` applies a recipe (the keys below; the labelled evaluation set in
``tests/imaging/fixtures/variants.json`` is written in it). ``camera_faults(seed)`` draws a recipe of one to
three photometric faults (colour casts, exposure, gamma, washed-out or vivid colour, contrast, haze, sensor
noise, blur, posterising, heavy JPEG, over-sharpening, a hue shift): nothing moves, so labelled boxes stay
where they were. ``evaluate_images --camera-faults SEED`` scores an analyser on such copies of labelled photos.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


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


def camera_faults(seed: int) -> dict:
    """A ``transform`` recipe of one to three photometric faults, the same for the same seed."""
    rng = np.random.default_rng(seed)
    draw = {
        "channel_gain": lambda: [float(rng.uniform(0.75, 1.3)), float(rng.uniform(0.85, 1.15)), float(rng.uniform(0.7, 1.3))],
        "gain": lambda: float(rng.uniform(0.4, 0.8) if rng.random() < 0.5 else rng.uniform(1.2, 1.7)),
        "gamma": lambda: float(rng.uniform(0.6, 1.6)),
        "saturation": lambda: float(rng.uniform(0.4, 1.5)),
        "contrast": lambda: float(rng.uniform(0.6, 1.3)),
        "haze": lambda: float(rng.uniform(0.15, 0.4)),
        "noise": lambda: float(rng.uniform(5, 15)),
        "blur": lambda: float(rng.uniform(0.7, 1.8)),
        "posterize": lambda: int(rng.choice([3, 4])),
        "jpeg_quality": lambda: int(rng.integers(25, 61)),
        "sharpen": lambda: float(rng.uniform(0.5, 1.0)),
        "hue_shift": lambda: int(rng.choice([-8, -5, 5, 8])),
    }
    faults = rng.choice(sorted(draw), size=int(rng.choice([1, 2, 2, 3])), replace=False)
    return {str(fault): draw[str(fault)]() for fault in sorted(faults)}
