"""Neural offline analyser: an SSD person detector, BlazePose per person, PPE measured in the regions.

Per image: the detector (SSD MobileNetV2, Open Images) finds people; non-maximum
suppression separates a crew (threshold and overlap tuned on the labelled
training sources, see ``tests/imaging/fixtures/variants.json``); people cut by the
image edge count. The BlazePose detector adds close-ups and portraits, which the
SSD detector scores low, when the landmark model confirms a person there. Per
person: BlazePose on the person's crop gives landmarks and a silhouette; the
head and torso regions come from the pose where it sees
the head and shoulders, from the box geometry otherwise. Hard hat, hi-vis vest
and handheld equipment are each a score turned into a probability by a
logistic calibration fitted on the training sources; for hard hats a model
learned on thousands of labelled people (``hat_model``) adds its own opinion as
a second piece of evidence; below ``CONFIDENT`` a judgement is ``None``
("unknown"), never a guess.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from imaging.analysers import hat_model, ppe, ssd
from imaging.analysers.base import DecodedImage, judgement
from imaging.analysers.camera import EMBEDDING_MODEL, QUALITY_SIDE, camera_health, embed_pixels

NAME = "offline-nn"
PERSON_THRESHOLD = 0.42  # detector score for a person (tuned on the training sources)
PERSON_OVERLAP = 0.4  # NMS: boxes overlapping more than this (IoU) are the same person
WORK_SIDE = 800  # analyse at most this many pixels on the longest side (tiles still reach small people)
CONFIDENT = 0.65  # a judgement less sure than this is "unknown"
# Logistic calibration p = 1 / (1 + exp(-(score - centre) / width)), fitted on the training sources.
CALIBRATION = {
    # A coloured shell: every training hit was a hard hat (no bare head scored above 0.02), so the centre is
    # set low by judgement rather than fitted.
    "hard_hat": (0.15, 0.05),
    # White: also light hair, a coat's collar, a face shield, a bald head in bright light: the score is the white
    # share less 0.6 x the share that looks like hair, skin or grey (``WHITE_LESS_BARE``), since both are often
    # in one dome; centre and width chosen on the training sources (hard hat 0.766 there); many stay "unknown".
    "hard_hat_white": (0.15, 0.1),
    # Hi-vis share of the torso: training wearers 0.13-0.54, non-wearers up to 0.09 (a yellow tool held in front
    # of the body); between about 0.07 and 0.14 the judgement stays "unknown".
    "safety_vest": (0.1, 0.025),
    "inspection_equipment": (0.38, 0.12),  # weak evidence: one training non-holder had a device-like rectangle
}
ATTRS = ("hard_hat", "safety_vest", "inspection_equipment")


def calibrated(attr: str, score: float) -> float:
    centre, width = CALIBRATION[attr]
    return 1.0 / (1.0 + math.exp(-(score - centre) / width))


WHITE_LESS_BARE = 0.6  # see CALIBRATION["hard_hat_white"]
HEAD_MIN_PX = 8  # head width in pixels below which a hat judgement loses confidence in proportion
CLOSE_UP_CONFIRM = 0.5  # the landmark model's own "a person is here" score a close-up find must reach
CLOSE_UP_TILT = 45  # degrees from upright beyond which a close-up find is refused (a motor part read upside down)
HALO = 9  # dilation kernel side in pixels (4 either side): how far outside the silhouette a helmet is looked for
# ... at least 0.6 of a head width (a bent-over worker's helmet sits further off a silhouette that missed it), but
# never more than 8 px either side (a close-up's head is so wide that its halo would reach the background).
HALO_HEADS, HALO_MAX = 0.6, 17
ON_PERSON = 0.5  # share of a blob on the silhouette above which a blob inside the pose's dome is the dome's own
DOUBT_FULL = 0.35  # a helmet-like blob this good beside the silhouette leaves no evidence for a bare head
BARE_FULL = 0.5  # hair, cap or skin over half the dome: full evidence of a bare head
# The learned hat model's opinion counts from this probability either way. At 0.65 (``CONFIDENT``) a portrait's
# golden hair (0.68) and Turbine2's small worker in warm light (0.38) joined the rules' weak leanings into sure,
# wrong judgements; on outside photos (the validation split) 0.75 gave up 5 of its 2,272 helmets judged right.
MODEL_SURE = 0.75


def decide(attr: str, score: float, *, trust: float = 1.0, against: float | None = None, model: float | None = None) -> dict:
    """A judgement from a score: value True/False when sure enough, None ("unknown") otherwise.

    ``trust`` (0..1) pulls the probability towards 0.5 when the regions are guesses (no pose, tiny person).
    ``against`` (0..1), when given, is the positive evidence needed for a "no": no shell colour on a
    head is not yet a bare head (the dome may be misplaced); hair, a cap or skin there is.
    ``model``, when given, is a learned model's probability, added as a second piece of evidence.
    """
    p = calibrated(attr, score)
    if against is not None and p < 0.5:
        trust *= min(1.0, against / BARE_FULL)
    p = 0.5 + (p - 0.5) * float(trust)
    if model is not None:
        p = hat_model.combine(p, model)
    confidence = max(p, 1 - p)
    value = (p >= 0.5) if confidence >= CONFIDENT else None
    return {**judgement(value, confidence), "score": round(float(score), 3)}


def _hat_attr(colour: str | None) -> str:
    return "hard_hat_white" if colour == "white" else "hard_hat"


def _crop_box(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The person's box plus a tenth on each side (the pose model wants some margin)."""
    x0, y0, x1, y1 = ppe.clip_box(box, width, height)
    mx, my = (x1 - x0) // 10, (y1 - y0) // 10
    return max(0, x0 - mx), max(0, y0 - my), min(width, x1 + mx), min(height, y1 + my)


def _pose(rgb: np.ndarray, box: np.ndarray, view: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks and a silhouette mask in image pixels: from the close-up detector's view when there is one,
    else from BlazePose on the box's crop."""
    height, width = rgb.shape[:2]
    if view is not None:
        return view["landmarks"], (view["silhouette"] > 0.5).astype(np.uint8)
    cx0, cy0, cx1, cy1 = _crop_box(box, width, height)
    landmarks, _flag, silhouette = ssd.pose_landmarks(rgb[cy0:cy1, cx0:cx1])
    landmarks[:, :2] += (cx0, cy0)
    mask = np.zeros((height, width), np.uint8)
    mask[cy0:cy1, cx0:cx1] = (silhouette > 0.5).astype(np.uint8)
    return landmarks, mask


def _measured_by_dome(blob: dict, posed: ppe.Regions, mask: np.ndarray) -> bool:
    """A blob in the pose's dome and mostly on the person's own pixels was measured there already (golden hair
    in a close-up is such a blob); the blob is for shells the pose or the silhouette missed."""
    if blob["pixels"] is None:
        return False
    ys, xs = blob["pixels"]
    hx0, hy0, hx1, hy1 = posed.head
    cy, cx = float(ys.mean()), float(xs.mean())
    return hx0 <= cx <= hx1 and hy0 <= cy <= hy1 and float(mask[ys, xs].mean()) >= ON_PERSON


def _below_shoulders(blob: dict, landmarks: np.ndarray) -> bool:
    """A blob whose middle is below the shoulder line: for a close-up, whose pose stands confirmed and upright,
    that is a shirt, a bag or a banner behind, never a helmet (on outside construction photos, four of the
    seventeen bare-headed people called helmeted were close-ups with a coloured shirt or sign below the head)."""
    return blob["pixels"] is not None and float(blob["pixels"][0].mean()) > float(landmarks[[11, 12], 1].mean())


def _person(
    rgb: np.ndarray,
    hsv: np.ndarray,
    hivis: np.ndarray,
    box: np.ndarray,
    score: float,
    objects: list[dict],
    found_by: str = "ssd",
    view: dict | None = None,
    evidence: bool = False,
) -> dict:
    height, width = rgb.shape[:2]
    landmarks, mask = _pose(rgb, box, view)
    fallback = ppe.regions_from_box(box, width, height)
    posed = ppe.regions_from_pose(landmarks, width, height, min_head=0.6 * fallback.head_size)
    regions = posed or fallback
    x0, y0, x1, y1 = ppe.clip_box(box, width, height)
    posed_hat = ppe.hat_score(hsv, mask, posed) if posed else None
    crown_hat = ppe.hat_score(hsv, mask, fallback)
    candidates = [h for h in (posed_hat, crown_hat) if h is not None]
    # Person segmenters often cut a helmet off the head: the blob is looked for on the silhouette grown a little.
    halo = min(max(HALO, int(HALO_HEADS * fallback.head_size) | 1), HALO_MAX)
    grown = cv2.dilate(mask, np.ones((halo, halo), np.uint8))
    blob = ppe.helmet_blob(hsv, grown, (x0, y0, x1, y1), fallback.head_size)
    dome_own = posed is not None and _measured_by_dome(blob, posed, mask)
    if dome_own or (view is not None and _below_shoulders(blob, landmarks)):
        blob = {**blob, "score": 0.0, "colour": None, "on_person": 0.0}
    # The learned model reads the domes as measured (before the white score is lessened below) and the blob the
    # rules still count as a helmet candidate.
    hat_evidence = hat_model.features(posed_hat, crown_hat, blob)
    candidates.append(blob)
    bare = candidates[0].get("bare", 0.0)  # measured where the head most likely is (pose, else crown)
    for candidate in candidates:
        if candidate["colour"] == "white":
            candidate["score"] -= WHITE_LESS_BARE * bare
    # The most convincing evidence of a shell wins: white and coloured scores are on different calibrations.
    hat = max(candidates, key=lambda h: calibrated(_hat_attr(h["colour"]), h["score"]))
    hat["bare"] = bare
    doubt = blob["score"]  # a helmet-like blob makes a "no" doubtful (the pose may have put the head on the chest)
    # As for hats: the pose may misplace the torso of someone bent over or seen from behind, so the box's
    # torso band is measured too and the larger share counts (the silhouette keeps the background out).
    vest = max(ppe.vest_share(hivis, r.torso, mask) for r in (posed, fallback) if r is not None)
    equipment = ppe.equipment_score(rgb, ppe.hands_region(box, width, height), objects)
    small = min(1.0, (box[3] - box[1]) / 60.0)  # people under ~60 px tall: regions are guesses, in proportion
    trust = (1.0 if posed else 0.8) * small
    # A head a few pixels wide: shell, hair, face and background share a handful of pixels (hats only).
    hat_trust = trust * min(1.0, regions.head_size / HEAD_MIN_PX)
    # The model measured the same guessed regions: the same trust. It reads what the rules read, so its weak
    # "no" beside the rules' weak "no" is not a second witness: it counts only when it is itself sure
    # (``MODEL_SURE``).
    model = 0.5 + (hat_model.probability(hat_evidence) - 0.5) * float(hat_trust)
    person = {
        "box": [round(x0 / width, 3), round(y0 / height, 3), round((x1 - x0) / width, 3), round((y1 - y0) / height, 3)],
        "confidence": round(float(score), 3),
        "found_by": f"{found_by}+{regions.source}",
        "at_edge": bool(x0 <= 1 or y0 <= 1 or x1 >= width - 1 or y1 >= height - 1),
        "hard_hat": {
            **decide(
                _hat_attr(hat["colour"]),
                hat["score"],
                trust=hat_trust,
                against=hat["bare"] * max(0.0, 1.0 - doubt / DOUBT_FULL),
                model=model if max(model, 1 - model) >= MODEL_SURE else None,
            ),
            "model": round(model, 3),
            "doubt": round(doubt, 3),
            "colour": hat["colour"],
            "bare": round(hat["bare"], 3),
        },
        "safety_vest": decide("safety_vest", vest, trust=trust),
        "inspection_equipment": {
            **decide("inspection_equipment", equipment["score"], trust=trust if equipment["measurable"] else 0.0),
            "what": equipment["what"],
        },
    }
    if evidence:  # for fitting the hat model on labelled photos (``manage.py fit_hat_model``)
        person["hat_evidence"] = hat_evidence.tolist()
    return person


def _close_people(rgb: np.ndarray, boxes: list) -> list[tuple[np.ndarray, float, dict]]:
    """People the BlazePose detector finds whose face is in no person box of the SSD detector: close-ups and
    portraits, which the SSD detector scores low. Each is confirmed by the landmark model on the square
    MediaPipe's pipeline gives it (``ssd.pose_in_view``) and must stand roughly upright. The box runs from the
    top of the head to the hips (or the frame's edge), 1.5 of the detector's fixed face boxes either side of the
    face (0.6 of the frame's longer side: a close-up's shoulders). Placing it by the shoulders and the upper-body
    radius instead was tried and was worse on the training photos."""
    height, width = rgb.shape[:2]
    frame = [width, height, width, height]
    out = []
    for person in ssd.close_people(rgb):
        fx0, fy0, fx1, fy1 = person["face"]
        cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
        if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes):
            continue  # the SSD detector has this person already
        view = ssd.pose_in_view(rgb, person["hips"], person["body"])
        if view is None or view["flag"] < CLOSE_UP_CONFIRM or abs(view["tilt"]) > CLOSE_UP_TILT:
            continue  # nobody there (a face-like machine part), or someone upside down or on their side: a shape
        fw, fh = fx1 - fx0, fy1 - fy0
        # The body point marks the top of the head (the full-body circle about the hips passes there).
        top = min(fy0, person["body"][1] - 0.1 * (cy - person["body"][1]))
        box = np.array([cx - 1.5 * fw, top, cx + 1.5 * fw, max(fy1 + fh, person["hips"][1])], np.float32)
        out.append((np.clip(box, 0, frame), person["score"], view))
    return out


def _image_flag(people: list[dict], attr: str, combine) -> dict:
    """Every person (hat, vest) or someone (equipment); unknown when the sure ones do not decide it."""
    values = [p[attr]["value"] for p in people]
    sure = [v for v in values if v is not None]
    if combine is all:
        value = False if False in sure else (True if sure and len(sure) == len(values) else None)
    else:
        value = True if True in sure else (False if sure and len(sure) == len(values) else None)
    decisive = [p[attr]["confidence"] for p in people if p[attr]["value"] == value] or [0.5]
    return judgement(value, min(decisive) if value is not None else max(p[attr]["confidence"] for p in people))


def _describe(people: list[dict], quality: dict) -> tuple[str, list[str]]:
    persons = len(people)
    if not persons:
        parts, keywords = ["Nobody in view"], ["unattended equipment"]
    else:
        parts, keywords = [f"{persons} worker{'s' if persons != 1 else ''} in view"], ["worker"]
        for attr, yes, no, tag in (
            ("hard_hat", "wearing a hard hat", "without a hard hat", "hard hat"),
            # The words match the tags, so the word cloud shows each thing once ("safety vest", not "hi-vis").
            ("safety_vest", "in a safety vest", "without a safety vest", "safety vest"),
            ("inspection_equipment", "holding a tablet", None, "tablet"),
        ):
            values = [p[attr]["value"] for p in people]
            if values.count(True):
                parts.append(f"{values.count(True)} {yes}")
                keywords.append(tag)
            if no and values.count(False):
                parts.append(f"{values.count(False)} {no}")
            if values.count(None):
                parts.append(f"{values.count(None)} not sure about {tag}")
    keywords.append("industrial site")
    for problem in quality["problems"]:
        parts.append(f"camera: {problem}")
        keywords.append(problem)
    return "; ".join(parts) + ".", keywords


def _quality_inputs(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = QUALITY_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)


def analyse_neural(image: DecodedImage, *, evidence: bool = False) -> dict:
    """The analysis; ``evidence`` adds each person's hat-model input (``hat_evidence``), for fitting that model."""
    original = image.rgb
    scale = WORK_SIDE / max(original.shape[:2])
    if scale < 1:  # the models see 300 and 256 pixels; more only costs time in the colour measurements
        original = cv2.resize(original, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    height, width = original.shape[:2]
    # Camera health on the pixels as they came, at the classic analyser's scale (its thresholds depend on it);
    # everything else on a lighting-normalised copy.
    quality = camera_health(*_quality_inputs(original))
    rgb = ppe.normalise(original)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    boxes, scores = ssd.detect_tiled(rgb)
    keep = ssd.nms(boxes, scores[:, ssd.PERSON], threshold=PERSON_THRESHOLD, overlap=PERSON_OVERLAP)
    objects = ssd.objects(boxes, scores, width, height)
    scale = np.array([width, height, width, height], np.float32)
    found = [(boxes[i] * scale, float(scores[i, ssd.PERSON]), "ssd", None) for i in keep]
    found += [(box, score, "close-up", view) for box, score, view in _close_people(rgb, [f[0] for f in found])]
    hivis = ppe.hivis_mask(hsv)
    people = [_person(rgb, hsv, hivis, box, score, objects, found_by, view, evidence) for box, score, found_by, view in found]
    # Nobody found: as sure as the best rejected person candidate was weak.
    best_rejected = float(scores[:, ssd.PERSON].max()) if not people and len(scores) else 0.0
    person_conf = float(np.mean([p["confidence"] for p in people])) if people else 1.0 - best_rejected
    flags = {}
    for key, attr, combine in (
        ("has_hard_hat", "hard_hat", all),
        ("has_safety_vest", "safety_vest", all),
        ("has_inspection_equipment", "inspection_equipment", any),
    ):
        flags[key] = _image_flag(people, attr, combine) if people else judgement(None, person_conf)
    description, keywords = _describe(people, quality)
    return {
        "provider": NAME,
        "width": width,
        "height": height,
        "description": description,
        "keywords": keywords,
        "persons": judgement(len(people), person_conf),
        "people": people,
        **flags,
        "objects": objects,
        "quality": quality,
    }


class NeuralAnalyser:
    """The offline provider with bundled neural models (fetched by ``scripts/fetch_models.py``)."""

    name = NAME

    def __init__(self) -> None:
        ssd.models_ready()  # a missing or wrong model file fails here, naming the command that fixes it
        ssd.warm_up()

    def analyse(self, image: DecodedImage) -> dict:
        return analyse_neural(image)

    def embed(self, image: DecodedImage, analysis: dict) -> tuple[list[float], str]:
        return embed_pixels(image), EMBEDDING_MODEL
