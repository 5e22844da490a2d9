"""evaluate_images: hard-hat judgements scored person by person on photos labelled in the YOLO layout."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from imaging.alterations import camera_faults
from imaging.analysers.base import image_decode
from imaging.evaluation import (
    LabelledPhoto,
    evaluate,
    labelled_people,
    person_for_head,
    photo_truth,
    score_image_flag,
    score_photo,
    with_camera_faults,
    yolo_photos,
)
from tests.imaging.conftest import jpeg_bytes, synthetic

MOVES = {"crop", "mirror", "scale", "rotate", "shear", "perspective", "pixelate"}  # recipe keys that move pixels


def test_helmets_and_bare_heads_are_scored_person_by_person(labelled_folder):
    out = StringIO()
    call_command("evaluate_images", str(labelled_folder), "--helmet-class", "0", "--bare-when-no-helmet", stdout=out)
    report = json.loads(out.getvalue())
    counts = report["counts"]
    assert counts["photos"] == 2 and counts["unreadable photos"] == 1  # the unlabelled photo is not scored
    assert counts["malformed label lines"] == 2
    assert counts["helmets"] == 1 and counts["helmets judged hat"] == 1 and report["helmet recall"] == 1.0
    assert counts["bare-only photos"] == 1 and counts["bares"] >= 1 and counts.get("bares judged hat", 0) == 0
    # The photos' own flags, where the labels decide them: only the bare-only photo here (helmets alone are
    # labelled, so the helmet photo may hold an unlabelled bare head). Its caps are no hard hats.
    assert counts["photos decided"] == 1 and counts["photos right"] == 1 and report["photo accuracy"] == 1.0


def _evaluate(folder, *extra) -> dict:
    out = StringIO()
    call_command("evaluate_images", str(folder), "--helmet-class", "0", "--bare-when-no-helmet", *extra, stdout=out)
    return json.loads(out.getvalue())


def test_camera_faults_score_the_same_worse_copies_on_every_run(labelled_folder):
    """How the judgements hold up on a worse camera: every photo under photometric faults drawn from the seed, the
    same copies on every run, so two runs agree and a figure can be rerun; the labelled boxes still count."""
    first = _evaluate(labelled_folder, "--camera-faults", "7")
    assert first == _evaluate(labelled_folder, "--camera-faults", "7")
    assert first["camera_faults"] == 7 and _evaluate(labelled_folder)["camera_faults"] is None
    assert first["counts"]["photos"] == 2 and first["counts"]["helmets"] == 1


def test_the_analyser_is_shown_the_faulty_copies_not_the_photos(labelled_folder):
    """The scoring itself runs on the altered pixels: what the analyser is handed is each photo's faulty copy."""
    photos = list(yolo_photos(labelled_folder, helmet_class=0))
    seen = []

    def analyse(image):
        seen.append(image.rgb)
        return {"people": []}

    evaluate(photos, analyse, faults_seed=7)
    readable = [photo for photo in photos if photo.path.name != "broken.jpg"]
    assert len(seen) == len(readable) == 2
    for shown, photo in zip(seen, readable, strict=True):
        clean = image_decode(photo.path.read_bytes())
        assert (shown == with_camera_faults(clean, 7, photo.path.name).rgb).all()
        assert shown.shape == clean.rgb.shape and (shown != clean.rgb).any()


def test_camera_faults_change_light_and_colour_but_never_move_a_pixel():
    assert all(MOVES.isdisjoint(camera_faults(seed)) for seed in range(300))
    assert len({tuple(sorted(camera_faults(seed))) for seed in range(300)}) > 50  # many kinds of fault, mixed
    image = image_decode(jpeg_bytes(synthetic(3)))
    worse = with_camera_faults(image, 7, "site.jpg")
    assert worse.rgb.shape == image.rgb.shape and (worse.rgb != image.rgb).any()
    assert image_decode(worse.data).rgb.tolist() == worse.rgb.tolist()  # the bytes are the altered picture
    assert (with_camera_faults(image, 7, "site.jpg").rgb == worse.rgb).all()
    assert (with_camera_faults(image, 8, "site.jpg").rgb != worse.rgb).any()


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


def test_a_person_is_labelled_once_and_a_crowd_in_one_box_not_at_all():
    """For fitting: each found person once, with one answer. Two helmets on one man (a label drawn twice) make
    one helmeted person; a box whose top holds a helmet and a bare head is two people the detector merged, and
    says nothing about either head."""
    man = {"box": [0.1, 0.1, 0.3, 0.8], "hard_hat": {"value": True}}
    crowd = {"box": [0.5, 0.1, 0.4, 0.8], "hard_hat": {"value": None}}
    photo = LabelledPhoto(
        path=None,
        helmets=[(0.25, 0.15, 0.1, 0.1), (0.26, 0.16, 0.1, 0.1), (0.6, 0.15, 0.1, 0.1)],
        heads=[(0.8, 0.15, 0.1, 0.1)],
    )
    assert labelled_people({"people": [man, crowd]}, photo, bare_when_no_helmet=False) == [(man, True)]
    bare_only = LabelledPhoto(path=None)
    assert labelled_people({"people": [man]}, bare_only, bare_when_no_helmet=True) == [(man, False)]
    assert labelled_people({"people": [man]}, bare_only, bare_when_no_helmet=False) == []


def test_labels_decide_a_photo_hard_hat_flag_only_where_they_would_name_a_bare_head():
    """The photo's flag is what a question such as "sites with workers without hats" reads, so it is scored too,
    but only where the labels say what it should be."""
    helmets = [(0.3, 0.2, 0.1, 0.1)]
    bare = [(0.7, 0.2, 0.1, 0.1)]
    with_heads = {"heads_labelled": True}
    assert photo_truth(LabelledPhoto(None, helmets, **with_heads), bare_when_no_helmet=False) is True
    assert photo_truth(LabelledPhoto(None, helmets, bare, **with_heads), bare_when_no_helmet=False) is False
    assert photo_truth(LabelledPhoto(None, helmets), bare_when_no_helmet=True) is None  # helmets alone labelled
    assert photo_truth(LabelledPhoto(None), bare_when_no_helmet=True) is False  # "bare heads only"
    assert photo_truth(LabelledPhoto(None), bare_when_no_helmet=False) is None  # nobody labelled


def test_a_photo_flag_is_right_wrong_unsure_or_its_people_were_not_found():
    crew = LabelledPhoto(None, [(0.3, 0.2, 0.1, 0.1)], [(0.7, 0.2, 0.1, 0.1)], heads_labelled=True)  # one bare
    someone = [{"box": [0.2, 0.1, 0.2, 0.8]}]

    def flag(value, people=someone):
        return score_image_flag({"people": people, "has_hard_hat": {"value": value}}, crew, bare_when_no_helmet=False)

    assert flag(False) == {"photos decided": 1, "photos right": 1}
    assert flag(True) == {"photos decided": 1, "photos wrong": 1}
    assert flag(None) == {"photos decided": 1, "photos unsure": 1}
    assert flag(None, people=[]) == {"photos decided": 1, "photos nobody found": 1}
    helmets_only = LabelledPhoto(None, [(0.3, 0.2, 0.1, 0.1)])
    assert score_image_flag({"people": someone}, helmets_only, bare_when_no_helmet=False) == {}


def test_with_a_head_class_every_labelled_photo_scores_its_flag(labelled_folder):
    """A dataset that labels bare heads (``--head-class``) decides every photo with a head in it: the helmet photo
    (its one worker wears a blue helmet: yes) and the caps photo once its two capped heads are labelled (no)."""
    (labelled_folder / "labels/caps.txt").write_text("1 0.625 0.52 0.07 0.12\n1 0.71 0.55 0.07 0.12\n")
    out = StringIO()
    call_command("evaluate_images", str(labelled_folder), "--helmet-class", "0", "--head-class", "1", stdout=out)
    report = json.loads(out.getvalue())
    assert report["counts"]["photos decided"] == report["counts"]["photos right"] == 2
    assert report["photo accuracy"] == report["photo accuracy when sure"] == 1.0
    assert report["counts"]["bares"] == 2 and report["counts"].get("bares judged hat", 0) == 0


def test_photo_accuracy_counts_unsure_and_unfound_as_wrong_and_when_sure_leaves_them_out(labelled_folder):
    """Four bare-only photos whose flags come back right, wrong, unsure and with nobody found: a quarter right in
    all, half of the sure ones."""
    photos = [LabelledPhoto(labelled_folder / "images/caps.jpg")] * 4
    someone = [{"box": [0.2, 0.1, 0.2, 0.8], "hard_hat": {"value": None}}]
    answers = iter(
        [
            {"people": someone, "has_hard_hat": {"value": False}},
            {"people": someone, "has_hard_hat": {"value": True}},
            {"people": someone, "has_hard_hat": {"value": None}},
            {"people": [], "has_hard_hat": {"value": None}},
        ]
    )
    report = evaluate(photos, lambda _image: next(answers), bare_when_no_helmet=True)
    assert report["counts"]["photos decided"] == 4
    assert report["photo accuracy"] == 0.25 and report["photo accuracy when sure"] == 0.5
