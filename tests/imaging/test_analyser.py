"""Offline analyser: output shape, confidence ranges, camera health, embeddings, accuracy on hand labels."""

import io
import logging

import cv2
import numpy as np
import pytest
from PIL import Image

from imaging.analysers.base import ImageDecodeError, image_decode
from imaging.analysers.offline import analyse_pixels, embed_pixels
from tests.imaging.conftest import LABELS, jpeg_bytes, synthetic

logger = logging.getLogger(__name__)
FLAGS = ("has_hard_hat", "has_safety_vest", "has_inspection_equipment")


@pytest.fixture(scope="module")
def seed_analyses(seed_images):
    return {rel: analyse_pixels(image_decode((seed_images / rel).read_bytes())) for rel in LABELS}


def _check_judgement(j, kinds):
    assert set(j) >= {"value", "confidence"}
    assert isinstance(j["value"], kinds)
    assert 0.0 <= j["confidence"] <= 1.0


def test_output_shape_and_confidence_ranges(seed_analyses):
    for rel, a in seed_analyses.items():
        assert a["provider"] == "offline-cv"
        assert isinstance(a["description"], str) and a["description"]
        assert isinstance(a["keywords"], list) and all(isinstance(k, str) for k in a["keywords"])
        _check_judgement(a["persons"], int)
        assert a["persons"]["value"] == len(a["people"])
        for flag in FLAGS:
            _check_judgement(a[flag], (bool, type(None)))
            assert (a[flag]["value"] is None) == (a["persons"]["value"] == 0), rel
        for person in a["people"]:
            assert 0 <= person["confidence"] <= 1
            assert len(person["box"]) == 4 and all(0 <= v <= 1.5 for v in person["box"])
            for attr in ("hard_hat", "safety_vest", "inspection_equipment"):
                _check_judgement(person[attr], bool)
        q = a["quality"]
        assert {"brightness", "blur_variance", "coverage", "too_dark", "blurred", "covered", "ok", "confidence"} <= set(q)
        assert 0 <= q["confidence"] <= 1


def test_accuracy_on_hand_labels(seed_analyses):
    """Regression guard at the measured level; the table is logged for the report."""
    hits = {"people present": 0, "persons exact": 0, **{f: 0 for f in FLAGS}}
    for rel, label in LABELS.items():
        a = seed_analyses[rel]
        persons = a["persons"]["value"]
        hits["people present"] += (persons > 0) == (label["persons"] > 0)
        hits["persons exact"] += persons == label["persons"]
        for flag in FLAGS:
            hits[flag] += a[flag]["value"] == label[flag]
    logger.warning("offline accuracy on %d hand-labelled seed images: %s", len(LABELS), hits)
    assert hits["people present"] >= 10
    assert hits["has_safety_vest"] >= 10
    assert hits["has_hard_hat"] >= 9
    assert hits["has_inspection_equipment"] >= 8


def test_no_people_images_have_no_flags(seed_analyses):
    empty = [a for a in seed_analyses.values() if a["persons"]["value"] == 0]
    assert empty, "the motor close-ups show nobody"
    for a in empty:
        assert all(a[f]["value"] is None for f in FLAGS)


def test_camera_health_signals(seed_images):
    base = image_decode((seed_images / "OilAndGas" / "ConnectedDevices3.jpg").read_bytes()).rgb
    good = analyse_pixels(image_decode(jpeg_bytes(base)))["quality"]
    assert good["ok"] and not good["too_dark"] and not good["blurred"]

    dark = analyse_pixels(image_decode(jpeg_bytes(base * 0.12)))["quality"]
    assert dark["too_dark"] and not dark["ok"]

    blurred = analyse_pixels(image_decode(jpeg_bytes(cv2.GaussianBlur(base, (0, 0), 6))))["quality"]
    assert blurred["blurred"] and not blurred["ok"]

    covered_img = base.copy()
    covered_img[:, : int(base.shape[1] * 0.8)] = (40, 38, 35)  # tape over most of the lens
    covered = analyse_pixels(image_decode(jpeg_bytes(covered_img)))["quality"]
    assert covered["covered"] and "lens covered" in covered["problems"]


def test_decode_rejects_non_images():
    for data in (b"", b"hello", jpeg_bytes(synthetic(3))[:200]):
        with pytest.raises(ImageDecodeError):
            image_decode(data)


def test_sixteen_bit_greyscale_decodes_to_its_levels_not_to_white():
    """A machine-vision camera's 16-bit PNG: each level scaled down (PIL's own conversion turns it white)."""
    grey = synthetic(5)[..., 1]
    out = io.BytesIO()
    Image.fromarray(grey.astype(np.uint16) * 257).save(out, "PNG")
    decoded = image_decode(out.getvalue())
    assert decoded.rgb.shape == (*grey.shape, 3)
    assert np.array_equal(decoded.rgb[..., 0], grey) and np.array_equal(decoded.rgb[..., 2], grey)


def test_embeddings_are_unit_vectors_that_rank_near_copies_first(seed_images):
    a = image_decode((seed_images / "TurbineImages" / "Turbine2.jpg").read_bytes())
    brighter = image_decode(jpeg_bytes(np.clip(a.rgb.astype(int) + 15, 0, 255), quality=70))
    other = image_decode((seed_images / "ElectricalRotors" / "Electrical Rotors3.jpg").read_bytes())
    va, vb, vo = (np.array(embed_pixels(x)) for x in (a, brighter, other))
    for v in (va, vb, vo):
        assert abs(np.linalg.norm(v) - 1) < 1e-3
    assert embed_pixels(a) == embed_pixels(a)  # deterministic: no random numbers
    assert va @ vb > va @ vo
    assert va @ vb > 0.9
