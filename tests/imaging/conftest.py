"""Imaging fixtures: seed images read in place, temp image trees, every available store."""

import io
import json
import logging
import shutil
import struct
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from imaging.analysers.neural import NeuralAnalyser
from imaging.stores import MongoImageStore, PostgresImageStore
from tests.imaging.mongo_server import SecantusServer, mongo_reachable

SEED_IMAGES = Path(settings.SEED_DATA_DIR) / "images"
LABELS = json.loads((Path(__file__).parent / "fixtures" / "seed_labels.json").read_text())["images"]
MONGO_URI = settings.MONGODB_URI or "mongodb://127.0.0.1:27017"


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def synthetic(seed: int, size=(160, 240)) -> np.ndarray:
    """A textured test picture (not a seed image): gradients plus blocks of colour."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 / w), (yy * 255 / h), ((xx + yy) * 127 / (w + h))], axis=-1)
    for _ in range(6):
        y, x = rng.integers(0, h - 30), rng.integers(0, w - 30)
        img[y : y + 30, x : x + 30] = rng.integers(0, 255, 3)
    return img.astype(np.uint8)


def png_header(width: int, height: int) -> bytes:
    """A 69-byte PNG: signature, an IHDR claiming width x height, a tiny IDAT and IEND (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(4))) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def seed_images() -> Path:
    if not SEED_IMAGES.is_dir():
        pytest.skip(f"seed images not found at {SEED_IMAGES}")
    return SEED_IMAGES


@pytest.fixture
def image_tree(tmp_path, seed_images) -> Path:
    """A scan root in a temp folder: two seed images per category (copied into tmp, names with spaces kept)."""
    root = tmp_path / "images"
    for category in ("TurbineImages", "ThermalEngines", "ElectricalRotors", "OilAndGas"):
        (root / category).mkdir(parents=True)
        for src in sorted((seed_images / category).iterdir())[:2]:
            shutil.copy2(src, root / category / src.name)
    return root


@pytest.fixture(scope="session")
def analyser():
    return NeuralAnalyser()


@pytest.fixture(scope="session")
def mongo_uri():
    """A real MongoDB when one is reachable (``MONGODB_URI``), else SecantusDB started as a separate process."""
    if mongo_reachable(MONGO_URI):
        yield MONGO_URI
        return
    try:
        with SecantusServer() as uri:
            logging.getLogger(__name__).warning("MongoDB contract tests run against SecantusDB at %s", uri)
            yield uri
    except (FileNotFoundError, RuntimeError) as exc:
        pytest.skip(f"no MongoDB at {MONGO_URI} and no SecantusDB: {exc}")


@pytest.fixture(params=["postgres", "mongodb"])
def store(request, db):
    """Every store the machine has: the same contract tests run on each."""
    if request.param == "postgres":
        yield PostgresImageStore()
        return
    mongo = MongoImageStore(
        request.getfixturevalue("mongo_uri"), database=f"tier0_images_test_{uuid.uuid4().hex[:8]}", timeout_ms=2000
    )
    yield mongo
    mongo.client.drop_database(mongo.collection.database.name)


@pytest.fixture
def labelled_folder(tmp_path, seed_images):
    """Two training-source photos labelled by hand: the bent-over worker's blue helmet (class 0) in
    ThermalEngines2, and ThermalEngines3's people in caps (no helmet box: bare heads only; two broken label
    lines); a broken file and a photo with no label file besides."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    shutil.copy(seed_images / "ThermalEngines/ThermalEngines2.jpg", tmp_path / "images/helmet.jpg")
    (tmp_path / "labels/helmet.txt").write_text("0 0.45 0.19 0.087 0.143\n")
    shutil.copy(seed_images / "ThermalEngines/ThermalEngines3.jpg", tmp_path / "images/caps.jpg")
    (tmp_path / "labels/caps.txt").write_text("helmet 0.5 0.5 0.1 0.1\n0 0.5\n")  # two broken lines, no helmet
    (tmp_path / "images/broken.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    (tmp_path / "labels/broken.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    shutil.copy(seed_images / "TurbineImages/Turbine2.jpg", tmp_path / "images/unlabelled.jpg")
    return tmp_path
