"""Rendering: original bytes, thumbnails and the word cloud as images.

Kept apart from ``selectors`` (which only read records) because these decode
and draw pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from imaging.analysers.base import upright_rgb
from imaging.selectors import images_word_frequencies
from imaging.stores import ImageStore

THUMBNAIL_SIDE = 256


class ImageUnreadable(OSError):
    """The stored file is gone, unreadable or over the pixel limit."""


def image_file(*, record: dict) -> tuple[bytes, str]:
    """The original bytes and their content type. Raises FileNotFoundError when the file is gone."""
    data = Path(record["path"]).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = (img.format or "JPEG").upper()
    except Image.DecompressionBombError as exc:
        raise ImageUnreadable(str(exc)) from exc
    return data, Image.MIME.get(fmt, "application/octet-stream")


def image_thumbnail(*, record: dict, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG at most ``side`` pixels on its longest edge, upright as the EXIF orientation says (the saved
    thumbnail carries no EXIF, so it must be turned here)."""
    try:
        with Image.open(record["path"]) as img:
            img.draft("RGB", (side, side))  # JPEG: decode at a reduced scale, not full size
            img = Image.fromarray(upright_rgb(img))
            img.thumbnail((side, side))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=85)
    except (Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise ImageUnreadable(str(exc)) from exc
    return out.getvalue()


# Dark, distinct colours: each has at least 4.5:1 contrast on white (WCAG AA), unlike viridis' yellows.
WORDCLOUD_COLOURS = ("#1f4e79", "#7b2d26", "#22543d", "#553c9a", "#744210", "#2d3748")


def _dark_colour(word: str, **_kwargs) -> str:
    return WORDCLOUD_COLOURS[sum(map(ord, word)) % len(WORDCLOUD_COLOURS)]


def images_wordcloud_png(*, site_id: str | None = None, store: ImageStore | None = None) -> bytes | None:
    """A PNG word cloud of what the site's images show; None when there is nothing to draw."""
    from wordcloud import WordCloud

    words = images_word_frequencies(site_id=site_id, store=store)
    if not words:
        return None
    cloud = WordCloud(
        width=800,
        height=400,
        background_color="white",
        color_func=_dark_colour,
        collocations=False,
        prefer_horizontal=1.0,  # every term reads left to right
        random_state=7,
    )
    cloud.generate_from_frequencies(dict(words))
    out = io.BytesIO()
    cloud.to_image().save(out, "PNG")
    return out.getvalue()
