"""Honest evaluation: new (neural) and old (classic OpenCV) analysers on the held-out part, in one run.

The held-out part is every altered copy of five SOURCE images that nothing was tuned on (see
``fixtures/variants.json``); thresholds and calibrations were set on the other seven sources only.
The table goes to ``artifacts/imaging_accuracy.json`` and the log. The assertions guard the levels
measured when this was written, not the targets.
"""

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from imaging.analysers.base import image_decode
from imaging.analysers.neural import analyse_neural
from imaging.analysers.offline import analyse_pixels
from tests.imaging.variants import encode, report_photos, score, variants

logger = logging.getLogger(__name__)
ARTIFACT = Path(settings.BASE_DIR) / "artifacts" / "imaging_accuracy.json"


def _tables(split: str, alterations: str) -> dict:
    return _scored([(rgb, label) for _name, _source, rgb, label in variants(split, alterations)])


def _photo_tables(split: str) -> dict:
    return _scored([(rgb, label) for _name, rgb, label in report_photos(split)])


def _scored(copies: list[tuple]) -> dict:
    """Both analysers on every copy, on a thread per core (the models and OpenCV release the GIL, as in a scan)."""
    images = [image_decode(encode(rgb)) for rgb, _label in copies]
    labels = [label for _rgb, label in copies]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        new = list(pool.map(analyse_neural, images))
        old = list(pool.map(analyse_pixels, images))
    return {
        "images": len(images),
        "new (offline-nn)": score(list(zip(new, labels, strict=True))),
        "old (offline-cv)": score(list(zip(old, labels, strict=True))),
    }


@pytest.fixture(scope="module")
def held_out_tables(seed_images):
    """Held-out sources under the first alterations, and (``unseen``) under the second set, which nothing was
    tuned on at all; the training sources' figures are there too, for the same comparison."""
    tables = {
        **_tables("held_out", "transforms"),
        "unseen alterations": {
            "held_out": _tables("held_out", "unseen_transforms"),
            "train": _tables("train", "unseen_transforms"),
        },
        "second unseen alterations": {
            "held_out": _tables("held_out", "second_unseen_transforms"),
            "train": _tables("train", "second_unseen_transforms"),
        },
        "third unseen alterations": {
            "held_out": _tables("held_out", "third_unseen_transforms"),
            "train": _tables("train", "third_unseen_transforms"),
        },
        "training sources": _tables("train", "transforms"),
        "report photos": {"held_out": _photo_tables("held_out"), "train": _photo_tables("train")},
    }
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(tables, indent=1))
    logger.warning("held-out accuracy (%d images): %s", tables["images"], json.dumps(tables))
    return tables


def test_held_out_accuracy_new_versus_old(held_out_tables):
    new, old = held_out_tables["new (offline-nn)"], held_out_tables["old (offline-cv)"]
    assert held_out_tables["images"] >= 50
    # Measured 2026-11-30 (third pass: a dull, grey dome is evidence of a bare head; a white dome counts less the
    # share that looks like hair or skin; a head a few pixels wide or a person under 60 px lowers confidence; a
    # profile's head is at least 0.6 of the box's head size): presence 0.981, exact count 0.827, hard hat 0.929
    # (0.975 when sure, coverage 0.952), vest 0.952, equipment 0.439. Before that pass: hard hat 0.857.
    # 2026-12-01 (close-ups confirmed on the landmark model's own square, a helmet looked for up to 0.6 of a head
    # off the silhouette): exact count 0.788 (two rows fewer), the rest unchanged.
    assert new["person present"]["accuracy"] >= 0.95
    assert new["exact count"]["accuracy"] >= 0.75
    assert new["has_hard_hat"]["accuracy"] >= 0.8 and new["has_hard_hat"]["accuracy_when_sure"] >= 0.9
    assert new["has_safety_vest"]["accuracy"] >= 0.9 and new["has_safety_vest"]["coverage"] >= 0.9
    for attr in ("person present", "exact count", "has_hard_hat"):
        assert new[attr]["accuracy"] >= old[attr]["accuracy"], attr


def test_unseen_alterations_of_held_out_sources(held_out_tables):
    """The blind check: alterations written before the third pass and never tuned on. Measured 2026-11-30:
    presence 0.983, hard hat 0.875 (0.933 when sure; 0.792 before the third pass), vest 0.958; 2026-12-01 (the
    wider helmet halo, which gained 5.6 points of hard hat on the training sources' copies): hard hat 0.854
    (0.911 when sure); 2026-12-01, third session (the learned hat model's sure opinions added): 0.875 (0.913 when
    sure, coverage 0.958)."""
    _blind_check_holds(held_out_tables["unseen alterations"]["held_out"], hard_hat=0.85)


def test_second_unseen_alterations_of_held_out_sources(held_out_tables):
    """The third set of alterations (haze, motion blur, vignetting, shear, casts, sharpening, low light, cuts),
    written on 2026-12-01 before that session changed the analyser. Blind first score: presence 0.967, hard hat
    0.812 (0.907 when sure, coverage 0.896), vest 0.938; old analyser 0.833, 0.667, 0.833."""
    _blind_check_holds(held_out_tables["second unseen alterations"]["held_out"], hard_hat=0.8)


def test_third_unseen_alterations_of_held_out_sources(held_out_tables):
    """The fourth set of alterations (tungsten and cold casts, clipped highlights, deep underexposure, a steeper
    rotation, pixelation, a keystone, posterised colour, heavy blur, faded noise), written on 2026-12-01 at the
    start of the fourth session, scored once. First score: presence 0.917, exact count 0.667, hard hat 0.708
    (0.791 when sure, coverage 0.896), vest 0.917; old analyser 0.65, 0.383, 0.479, 0.583. The levels it showed are
    guarded, not the targets (presence and hard hat are below them)."""
    _blind_check_holds(held_out_tables["third unseen alterations"]["held_out"], hard_hat=0.7, sure=0.75, presence=0.9)


def _blind_check_holds(table: dict, *, hard_hat: float, sure: float = 0.9, presence: float = 0.95) -> None:
    """The levels a blind check on the held-out sources must keep, and never below the old analyser."""
    new, old = table["new (offline-nn)"], table["old (offline-cv)"]
    assert new["person present"]["accuracy"] >= presence
    assert new["has_hard_hat"]["accuracy"] >= hard_hat and new["has_hard_hat"]["accuracy_when_sure"] >= sure
    assert new["has_safety_vest"]["accuracy"] >= 0.9
    for attr in ("person present", "exact count", "has_hard_hat", "has_safety_vest"):
        assert new[attr]["accuracy"] >= old[attr]["accuracy"], attr


def test_real_photographs_nobody_tuned_on(held_out_tables):
    """Photographs from the annual report, labelled by hand; the held-out half was never looked at through the
    analyser (but for page 84's portrait, studied unknowingly as its duplicate on page 90). Measured 2026-11-30 on
    the 10 held-out photos: presence 0.9, hard hat 0.875 (1.0 when sure), vest 0.75; before the close-up detector
    (blind, first score): presence 0.8, hard hat 0.75, vest 0.625; 2026-12-01 (close-ups confirmed on the
    landmark model's own square): presence 1.0, hard hat 1.0, vest 0.875."""
    new = held_out_tables["report photos"]["held_out"]["new (offline-nn)"]
    assert held_out_tables["report photos"]["held_out"]["images"] == 10
    assert new["person present"]["accuracy"] >= 0.9
    assert new["has_hard_hat"]["accuracy"] >= 0.85 and new["has_hard_hat"]["accuracy_when_sure"] >= 0.9
    assert new["has_safety_vest"]["accuracy"] >= 0.85


def test_report_photos_are_distinct_images():
    """The report prints some photographs twice (page 90's portrait is page 84's): a held-out photo must not
    come back as a training one under another page."""
    photos = json.loads((Path(__file__).parent / "fixtures" / "report_photos.json").read_text())["photos"]
    digests = [photo["sha256_16"] for photo in photos]
    assert len(set(digests)) == len(digests)


def test_no_held_out_source_is_a_training_source():
    train = {source for _name, source, _rgb, _label in variants("train")}
    held = {source for _name, source, _rgb, _label in variants("held_out")}
    assert train and held and not train & held
