"""evaluate_images: hard-hat judgements scored person by person on photos labelled in the YOLO layout."""

import json
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from imaging.evaluation import LabelledPhoto, person_for_head, score_photo


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


def test_helmets_and_bare_heads_are_scored_person_by_person(labelled_folder):
    out = StringIO()
    call_command("evaluate_images", str(labelled_folder), "--helmet-class", "0", "--bare-when-no-helmet", stdout=out)
    report = json.loads(out.getvalue())
    counts = report["counts"]
    assert counts["photos"] == 2 and counts["unreadable photos"] == 1  # the unlabelled photo is not scored
    assert counts["malformed label lines"] == 2
    assert counts["helmets"] == 1 and counts["helmets judged hat"] == 1 and report["helmet recall"] == 1.0
    assert counts["bare-only photos"] == 1 and counts["bares"] >= 1 and counts.get("bares judged hat", 0) == 0


def test_a_helmet_belongs_to_the_person_whose_head_it_is():
    front = {"box": [0.1, 0.1, 0.6, 0.9], "hard_hat": {"value": False}}
    behind = {"box": [0.55, 0.12, 0.1, 0.3], "hard_hat": {"value": True}}
    small_helmet_behind = (0.6, 0.15, 0.04, 0.05)  # in the front man's box too, but far too small for his head
    assert person_for_head([front, behind], small_helmet_behind) is behind
    counts = score_photo({"people": [front, behind]}, LabelledPhoto(path=None, helmets=[small_helmet_behind]),
                         bare_when_no_helmet=False)  # fmt: skip
    assert counts == {"helmets": 1, "helmets judged hat": 1}


def test_a_folder_without_the_yolo_layout_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="images/ and labels/"):
        call_command("evaluate_images", str(tmp_path), "--helmet-class", "0")
