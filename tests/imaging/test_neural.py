"""Neural offline analyser: pinned model files, detector decoding, output shape, abstention, the questions."""

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from imaging import services
from imaging.analysers import ppe, ssd
from imaging.analysers.base import image_decode
from imaging.analysers.model_files import FIX, ModelMissing, model_path
from imaging.analysers.neural import CALIBRATION, CONFIDENT, _person, analyse_neural, decide
from imaging.models import ImageRecord
from imaging.questions import images_answer_question
from imaging.rendering import image_thumbnail
from imaging.stores import PostgresImageStore
from tests.imaging.conftest import jpeg_bytes, synthetic
from tests.imaging.variants import encode

ROOT = Path(settings.BASE_DIR)
ATTRS = ("hard_hat", "safety_vest", "inspection_equipment")


def test_anchors_match_the_detector_outputs():
    assert ssd.ANCHORS.shape == (1917, 4)  # 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1) * 6
    assert ssd.LABELS[ssd.PERSON] == "Person" and len(ssd.LABELS) == 24


def test_pose_detector_anchors_match_its_outputs():
    assert ssd.POSE_ANCHORS.shape == (2254, 2)  # 28*28*2 + 14*14*2 + 7*7*6


@pytest.fixture(scope="module")
def training_photos() -> dict:
    """The annual report's training photos, decoded once for the tests of this module."""
    from tests.imaging.variants import report_photos

    return {name: rgb for name, rgb, _label in report_photos("train")}


def test_bare_headed_close_ups_the_ssd_detector_misses_are_found_and_judged(training_photos):
    """Real close-ups from the annual report (training photos): shop staff and a man in a baseball cap beside a
    bare-headed colleague. The SSD detector scores them all under its threshold; the BlazePose detector finds
    them by face and upper body, the landmark model confirms each, and the heads are judged bare."""
    for name in ("report p96 Im0.jpg", "report p96 Im1.jpg"):
        analysis = analyse_neural(image_decode(encode(training_photos[name])))
        assert analysis["persons"]["value"] >= 1, name
        assert all(p["found_by"].startswith("close-up+") for p in analysis["people"]), name
        assert analysis["has_hard_hat"]["value"] is False, name  # a cap is not a hard hat


def test_a_close_up_is_confirmed_on_the_square_the_landmark_model_was_trained_on(training_photos):
    """Portraits that fill the frame (training photos) are one person each: the landmark model confirms them on
    MediaPipe's own square about the hips (on a crop of the close-up's box its score swung from 0 to 1 with the
    margin, and these were missed). A face-like motor part is nobody: in one copy (mirrored, darker, cropped)
    the landmark model does see a person there (0.59), lying upside down, and the tilt refuses it."""
    from tests.imaging.variants import RECIPE, SEED_IMAGES, transform

    for name in ("report p82 Im0.jpg", "report p6 Im1.jpg", "report p26 Im1.jpg"):
        analysis = analyse_neural(image_decode(encode(training_photos[name])))
        assert analysis["persons"]["value"] == 1, name
        assert analysis["people"][0]["found_by"].startswith("close-up+"), name
    rotors = np.asarray(Image.open(SEED_IMAGES / "ElectricalRotors" / "Electrical Rotors3.jpg").convert("RGB"))
    motor = next(item for item in RECIPE["own_labels"] if item["name"] == "motor crop")
    upside_down = next(spec for spec in RECIPE["transforms"] if spec["name"] == "mirror, darker, crop")
    for spec in (motor, upside_down):
        assert analyse_neural(image_decode(encode(transform(rotors, spec))))["persons"]["value"] == 0, spec


def test_golden_hair_in_a_close_up_is_not_a_yellow_helmet(training_photos):
    """A portrait (training photo, page 26) with golden-brown hair: its highlights make a yellow, head-sized blob.
    The pose (on the close-up detector's square) puts the dome there, and the dome is hair: the blob is part of
    what the dome measured, so it is no helmet. Before, this was a "yes" at 95 % confidence."""
    analysis = analyse_neural(image_decode(encode(training_photos["report p26 Im1.jpg"])))
    assert analysis["persons"]["value"] == 1
    assert analysis["has_hard_hat"]["value"] is not True
    assert analysis["people"][0]["hard_hat"]["doubt"] == 0.0  # no helmet-like blob was kept


def test_missing_or_altered_model_is_a_clear_error_naming_the_fix(settings, tmp_path):
    settings.IMAGES_MODELS_DIR = str(tmp_path)
    with pytest.raises(ModelMissing, match=r"is missing.*scripts/fetch_models\.py"):
        model_path("person_detector")
    good = Path(str(model_path.__globals__["manifest"]()["person_detector"]["file"]))
    (tmp_path / good.name).write_bytes(b"\0" * 100)
    with pytest.raises(ModelMissing, match="not the pinned file") as err:
        model_path("person_detector")
    assert FIX in str(err.value)


def test_fetch_script_check_names_the_command_and_downloads_nothing(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "IMAGES_MODELS_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "scripts" / "fetch_models.py"), "--check"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "run: .venv/bin/python scripts/fetch_models.py" in done.stderr
    assert list(tmp_path.iterdir()) == []  # --check never fetches


def test_manifest_pins_versions_and_hashes():
    models = json.loads((ROOT / "imaging" / "analysers" / "models.json").read_text())["models"]
    for spec in models.values():
        assert spec["version"] and len(spec["sha256"]) == 64 and spec["licence"] == "Apache-2.0"
        assert model_path(next(k for k, v in models.items() if v is spec)).stat().st_size == spec["size"]


@pytest.fixture(scope="module")
def seed_analyses(seed_images):
    from tests.imaging.conftest import LABELS

    return {rel: analyse_neural(image_decode((seed_images / rel).read_bytes())) for rel in LABELS}


def test_output_shape_and_confidences(seed_analyses):
    for rel, a in seed_analyses.items():
        assert a["provider"] == "offline-nn"
        assert a["persons"]["value"] == len(a["people"]), rel
        for person in a["people"]:
            assert 0 <= person["confidence"] <= 1 and len(person["box"]) == 4
            assert person["found_by"] in ("ssd+pose", "ssd+box", "close-up+pose", "close-up+box")
            for attr in ATTRS:
                j = person[attr]
                assert j["value"] in (True, False, None) and 0.5 <= j["confidence"] <= 1
                assert (j["value"] is None) == (j["confidence"] < CONFIDENT)


def test_people_found_where_the_seed_has_them(seed_analyses):
    assert seed_analyses["OilAndGas/ConnectedDevices2.jpg"]["persons"]["value"] == 2
    # Three mechanics, one cut by the left edge: the edge one is kept (flagged), overlapping ones stay apart.
    assert seed_analyses["TurbineImages/Turbine3.jpg"]["persons"]["value"] >= 2
    assert any(p["at_edge"] for p in seed_analyses["TurbineImages/Turbine3.jpg"]["people"])
    assert seed_analyses["ElectricalRotors/Electrical Rotors2.jpg"]["persons"]["value"] == 0


def test_below_the_confidence_a_judgement_is_unknown():
    assert decide("safety_vest", 0.30)["value"] is True
    assert decide("safety_vest", 0.0)["value"] is False
    centre = CALIBRATION["safety_vest"][0]
    assert decide("safety_vest", centre)["value"] is None  # on the calibration's centre: a coin toss
    assert decide("safety_vest", 0.30, trust=0.0)["value"] is None  # regions that are guesses decide nothing


def test_nobody_in_a_synthetic_picture():
    a = analyse_neural(image_decode(jpeg_bytes(synthetic(11, size=(300, 400)))))
    assert a["persons"]["value"] == 0 and a["has_hard_hat"]["value"] is None


def _files(result) -> list[str]:
    return sorted(s["image"]["filename"] for s in result["sources"])


@pytest.mark.django_db
def test_three_questions_on_raw_neural_analysis(seed_images, analyser):
    """No review: the questions answer from what the neural analyser saw, with the images as sources."""
    store = PostgresImageStore()
    services.images_scan(root=seed_images, store=store, analyser=analyser)
    no_hats = images_answer_question("Give me turbine sites that have workers without hats", store=store)
    assert _files(no_hats) == ["Turbine3.jpg"]
    high = images_answer_question("Give me turbine sites that have workers with high safety compliance", store=store)
    # No turbine crew reaches "high" (hats, no vests, no tablets): the closest is named as such.
    assert high["data"]["closest_instead"] is True and _files(high) == ["Turbine2.jpg"]
    tablet = images_answer_question("engineer with hat and tablet in the hand", store=store)
    assert _files(tablet) == ["ConnectedDevices2.jpg", "ConnectedDevices3.jpg"]
    assert tablet["data"]["uncertain"] == 0 or f"{tablet['data']['uncertain']} image(s)" in tablet["answer"]


@pytest.mark.django_db
def test_three_questions_on_altered_copies(seed_images, analyser, tmp_path):
    """The same answers on copies the analyser has not seen: mirrored, re-lit, recompressed, cropped.

    Guards the levels measured when written (per variant, exact image sets): no hats 5/5,
    high compliance 3/5 (mirror, warm light: one of Turbine2's small workers is "not sure" on his hat, so no
    image is named closest, since Turbine2 could outscore any once reviewed, and Turbine2 is named uncertain),
    hat and tablet 4/5 (the clipboard or the tablet is missed on one copy: equipment is the weak judgement).
    """
    from tests.imaging.variants import LABELS, RECIPE, transform

    questions = {
        "no hats": ("Give me turbine sites that have workers without hats", ["Turbine3.png"]),
        "high": ("Give me turbine sites that have workers with high safety compliance", ["Turbine2.png"]),
        "hat and tablet": ("engineer with hat and tablet in the hand", ["ConnectedDevices2.png", "ConnectedDevices3.png"]),
    }
    exact = dict.fromkeys(questions, 0)
    for variant in ("mirror", "darker", "warm light", "jpeg 40", "crop 90%"):
        spec = next(t for t in RECIPE["transforms"] if t["name"] == variant)
        root = tmp_path / variant
        for rel in LABELS:
            target = (root / rel).with_suffix(".png")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(encode(transform(image_decode((seed_images / rel).read_bytes()).rgb, spec)))
        store = PostgresImageStore()
        services.images_scan(root=root, store=store, analyser=analyser)
        for key, (question, want) in questions.items():
            result = images_answer_question(question, store=store)
            got = _files(result)
            exact[key] += got == want
            assert set(got) <= set(want), (variant, key, got, result["answer"])  # never a wrong image
            if key == "high" and not got:
                assert "Turbine2.png" in result["data"]["uncertain_images"], (variant, result["answer"])
        ImageRecord.objects.all().delete()  # the next variant's answers see only its own copies
    assert exact["no hats"] == 5 and exact["high"] >= 3 and exact["hat and tablet"] >= 4, exact


def test_scan_images_without_model_files_names_the_fix(settings, tmp_path, image_tree):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.IMAGES_MODELS_DIR = str(tmp_path / "no-models")
    with pytest.raises(CommandError, match=r"scripts/fetch_models\.py"):
        call_command("scan_images", str(image_tree), "--offline")


def _training_image(seed_images, rel: str, **spec) -> np.ndarray:
    from tests.imaging.variants import RECIPE, transform

    assert rel not in RECIPE["held_out"]  # these checks tune nothing, but they stay on the training sources
    return transform(image_decode((seed_images / rel).read_bytes()).rgb, spec)


def _vests(rgb: np.ndarray) -> list:
    return [p["safety_vest"]["value"] for p in analyse_neural(image_decode(encode(rgb)))["people"]]


def test_hi_vis_is_judged_against_the_image_own_light(seed_images):
    """The same vest under half the light, and re-coloured fluorescent orange, is still a vest."""
    rel = "ThermalEngines/ThermalEngines2.jpg"
    assert _vests(_training_image(seed_images, rel, gain=0.5)) == [True]
    hsv = cv2.cvtColor(_training_image(seed_images, rel), cv2.COLOR_RGB2HSV)
    lime = (hsv[..., 0] >= 26) & (hsv[..., 0] <= 44) & (hsv[..., 1] >= 60)
    hsv[..., 0] = np.where(lime, hsv[..., 0] - 22, hsv[..., 0])  # yellow-lime -> orange, same saturation and value
    assert _vests(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)) == [True]
    # Beige coveralls, skin and a yellow hard hat are not hi-vis, in warm light too.
    for other in ("TurbineImages/Turbine2.jpg", "ThermalEngines/ThermalEngines3.jpg", "OilAndGas/ConnectedDevices3.jpg"):
        assert True not in _vests(_training_image(seed_images, other, channel_gain=(1.12, 1.0, 0.85))), other


def test_a_close_up_cut_by_the_image_edge_has_its_torso_below_the_head():
    box = ppe.regions_from_box((10, 5, 110, 100), 120, 100)  # touches the bottom edge: head and shoulders
    assert box.torso[3] == 100 and box.torso[1] >= 5 + 45  # to the edge, below the head
    standing = ppe.regions_from_box((10, 5, 50, 80), 120, 100)
    assert standing.torso[3] < 80  # a whole person: the torso ends above the legs


def _hats(rgb: np.ndarray) -> list:
    return [p["hard_hat"]["value"] for p in analyse_neural(image_decode(encode(rgb)))["people"]]


@pytest.mark.parametrize("spec", [{"gamma": 0.7}, {"vignette": 0.45}, {"hue_shift": 4}], ids=str)
def test_a_bent_over_worker_keeps_his_helmet_when_the_outline_falls_short_of_it(seed_images, spec):
    """Under these changes of light the segmenter's outline of the bent-over worker stops a few pixels short of
    his blue helmet: the helmet still counts, since it touches the outline grown by the halo."""
    assert _hats(_training_image(seed_images, "ThermalEngines/ThermalEngines2.jpg", **spec)) == [True]


def _close_up_hat(red_top: int) -> dict:
    """A drawn close-up (bare head, dark hair, dark clothes) with its pose and silhouette given, as the close-up
    detector hands them over, and a red head-sized patch whose top row is ``red_top``; shoulders at y = 80."""
    rgb = np.full((240, 200, 3), 128, np.uint8)
    rgb[15:200, 60:140] = (70, 70, 90)  # dark clothes
    rgb[20:75, 78:122] = (200, 150, 120)  # skin
    rgb[20:38, 78:122] = (40, 30, 25)  # dark hair
    rgb[red_top : red_top + 16, 85:115] = (220, 30, 30)
    silhouette = np.zeros((240, 200), np.float32)
    silhouette[15:200, 60:140] = 1.0
    landmarks = np.zeros((33, 5), np.float32)
    landmarks[:, 3] = 1.0  # all visible
    for index, point in {0: (100, 60), 2: (92, 50), 5: (108, 50), 7: (85, 52), 8: (115, 52), 11: (70, 80),
                         12: (130, 80), 23: (75, 190), 24: (125, 190)}.items():  # fmt: skip
        landmarks[index, :2] = point
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    box = np.array([40, 15, 160, 200], np.float32)
    view = {"landmarks": landmarks, "silhouette": silhouette}
    return _person(rgb, hsv, ppe.hivis_mask(hsv), box, 0.9, [], "close-up", view)["hard_hat"]


def test_a_coloured_blob_below_a_close_up_shoulders_is_clothing_not_a_helmet():
    """A close-up's pose is confirmed and upright, so its helmet sits above the shoulder line: a red shirt patch
    below it is not one (without the rule this bare head was a sure "yes"), while red on the head still is."""
    shirt = _close_up_hat(red_top=84)
    assert shirt["value"] is False and shirt["doubt"] == 0.0
    assert _close_up_hat(red_top=22)["value"] is True


def _stored_sideways(upright: Path) -> bytes:
    """The file a phone held upright writes: the sensor's pixels turned a quarter, and EXIF orientation 6
    ("turn clockwise to show") to put them right."""
    with Image.open(upright) as img:
        sideways = img.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    out = io.BytesIO()
    sideways.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def test_a_photo_stored_sideways_is_analysed_as_it_is_shown(seed_images, tmp_path):
    """Turbine3's three bare-headed mechanics, as a phone held upright would store them: the analysis sees the
    scene upright (the same people, the same "no hard hat") and the thumbnail shows it upright."""
    upright = seed_images / "TurbineImages" / "Turbine3.jpg"
    data = _stored_sideways(upright)
    with Image.open(io.BytesIO(data)) as img:
        assert img.width < img.height  # the stored pixels are sideways (the seed photo is landscape)
    decoded, original = image_decode(data), image_decode(upright.read_bytes())
    assert decoded.rgb.shape == original.rgb.shape
    assert np.abs(decoded.rgb.astype(int) - original.rgb.astype(int)).mean() < 4  # JPEG noise, not a turn
    seen, expected = analyse_neural(decoded), analyse_neural(original)
    assert seen["persons"]["value"] == expected["persons"]["value"] >= 2
    assert seen["has_hard_hat"]["value"] is expected["has_hard_hat"]["value"] is False
    (tmp_path / "sideways.jpg").write_bytes(data)
    thumbnail = Image.open(io.BytesIO(image_thumbnail(record={"path": str(tmp_path / "sideways.jpg")})))
    assert thumbnail.width > thumbnail.height


def _far_off_in_a_wide_frame(scene: np.ndarray, *, width: int = 1920, share: float = 0.35) -> np.ndarray:
    """An HD camera's 16:9 frame with the scene far off in one corner (``share`` of the frame's width); the rest
    is the same scene out of focus, so the frame holds nothing sharp but the crew."""
    frame = cv2.resize(cv2.GaussianBlur(scene, (0, 0), 8), (width, width * 9 // 16))
    scale = share * width / scene.shape[1]
    near = cv2.resize(scene, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    frame[: near.shape[0], : near.shape[1]] = near
    return frame


def test_a_crew_far_off_in_a_wide_hd_frame_is_found_and_judged(seed_images):
    """ThermalEngines3's two men in caps (a training source), small in a corner of a 1920 x 1080 frame. Analysed
    at 800 x 450, the frame is squeezed 2.7 times across into the detector's square: before tiles were asked of
    the frame's longer side, one man was found and his cap read as a hard hat."""
    scene = np.asarray(Image.open(seed_images / "ThermalEngines" / "ThermalEngines3.jpg").convert("RGB"))
    analysis = analyse_neural(image_decode(encode(_far_off_in_a_wide_frame(scene))))
    assert (analysis["width"], analysis["height"]) == (800, 450)
    assert analysis["persons"]["value"] == 2
    assert analysis["has_hard_hat"]["value"] is False
