"""Rendering: original bytes, thumbnails and the word cloud as images.

Kept apart from ``selectors`` (which only read records) because these decode
and draw pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from imaging.selectors import images_word_frequencies
from imaging.stores import ImageStore

THUMBNAIL_SIDE = 256


def image_file(*, record: dict) -> tuple[bytes, str]:
    """The original bytes and their content type. Raises FileNotFoundError when the file is gone."""
    data = Path(record["path"]).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        fmt = (img.format or "JPEG").upper()
    return data, Image.MIME.get(fmt, "application/octet-stream")


def image_thumbnail(*, record: dict, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG at most ``side`` pixels on its longest edge."""
    with Image.open(record["path"]) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85)
    return out.getvalue()


def images_wordcloud_png(*, site_id: str | None = None, store: ImageStore | None = None) -> bytes | None:
    """A PNG word cloud of what the site's images show; None when there is nothing to draw."""
    from wordcloud import WordCloud

    words = images_word_frequencies(site_id=site_id, store=store)
    if not words:
        return None
    cloud = WordCloud(width=800, height=400, background_color="white", colormap="viridis", random_state=7)
    cloud.generate_from_frequencies(dict(words))
    out = io.BytesIO()
    cloud.to_image().save(out, "PNG")
    return out.getvalue()
