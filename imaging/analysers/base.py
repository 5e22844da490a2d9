"""What every image analyser returns, and how an image is decoded.

An analysis is a plain dict so it can be stored as JSONB or a MongoDB document
as it is. Every judgement is ``{"value": ..., "confidence": 0..1}``; image-level
flags are ``None`` when nobody is in view.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Largest image we agree to decode (about 50 megapixels): bigger is a bomb, not a camera frame.
# ``IMAGES_MAX_PIXELS`` overrides it; ``ImagingConfig.ready`` sets PIL's own limit to the same value.
MAX_PIXELS = 50_000_000


class ImageDecodeError(ValueError):
    """The bytes are not a complete, readable image."""


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image decoded once and shared by the analyser and the embedder."""

    rgb: np.ndarray  # H x W x 3, uint8
    data: bytes  # the original file bytes (sent as-is to a remote model)
    format: str  # "JPEG", "PNG", ...

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def image_decode(data: bytes) -> DecodedImage:
    """Decode fully (so truncated files fail here, not later), upright as the EXIF orientation says, or raise
    ImageDecodeError."""
    if not data:
        raise ImageDecodeError("empty file")
    limit = Image.MAX_IMAGE_PIXELS or MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x the limit PIL only warns: refuse those too, before decoding a pixel.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > limit:
                    raise ImageDecodeError(f"image too large ({img.width}x{img.height}, limit {limit} pixels)")
                fmt = img.format or "unknown"
                img.load()  # raises OSError on a truncated file
                # A phone or a body camera held upright stores its pixels sideways and says so in EXIF: the
                # analyser must see the scene as a person does (a person lying on their side is not found).
                rgb = upright_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"decompression bomb refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # PIL reports truncation and corrupt headers as OSError/SyntaxError.
        raise ImageDecodeError(f"unreadable image: {exc}") from exc
    if rgb.ndim != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise ImageDecodeError("image too small to analyse")
    return DecodedImage(rgb=rgb, data=data, format=fmt)


def upright_rgb(img: Image.Image) -> np.ndarray:
    """8-bit RGB, turned upright as the EXIF orientation says (the analyser and the thumbnails read pixels this one
    way). Greyscale of more than 8 bits (machine-vision and thermal cameras write 16-bit PNG and TIFF) is
    scaled down: PIL's own conversion clips every level above 255 to white."""
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith("I;16"):
        grey = (np.asarray(img, np.uint32) >> 8).astype(np.uint8)
    elif img.mode in ("I", "F"):  # 32-bit integers or floats: stretch the levels the image uses
        levels = np.asarray(img, np.float64)
        low, high = float(levels.min()), float(levels.max())
        grey = ((levels - low) * (255.0 / max(high - low, 1e-9))).astype(np.uint8)
    else:
        return np.asarray(img.convert("RGB"))
    return np.repeat(grey[..., None], 3, axis=2)


def judgement(value, confidence: float) -> dict:
    return {"value": value, "confidence": round(float(min(1.0, max(0.0, confidence))), 3)}


class Analyser(Protocol):
    """A provider: ``analyse`` gives the judgements, ``embed`` a unit vector."""

    name: str

    def analyse(self, image: DecodedImage) -> dict: ...

    def embed(self, image: DecodedImage, analysis: dict) -> tuple[list[float], str]: ...
