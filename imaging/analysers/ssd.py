"""SSD MobileNetV2 (Open Images, 24 classes) and BlazePose landmarks, run with LiteRT.

The detector's graph ends at raw outputs (1,917 boxes x 24 class logits), so the
anchors are generated here exactly as MediaPipe's ``SsdAnchorsCalculator`` does
for a 300x300 input (6 layers, strides 16..512, scales 0.2..0.95, aspect ratios
1, 2, 1/2, 3, 1/3 plus an interpolated square; 3 anchors per cell in the lowest
layer) and boxes are decoded with the TF box coder's scales (10, 10, 5, 5).
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from imaging.analysers.model_files import manifest, model_path

LABELS = (
    "???", "Bicycle", "Boot", "Laptop", "Person", "Chair", "Cattle", "Desk", "Cat", "Computer mouse",
    "Computer monitor", "Box", "Mug", "Coffee cup", "Stationary bicycle", "Table", "Bottle", "High heels",
    "Vehicle", "Footwear", "Dog", "Book", "Camera", "Car",
)  # fmt: skip  # the model's label map (mediapipe object_detection_oidv4_labelmap.txt)
PERSON = LABELS.index("Person")
# Things an inspector holds: a tablet reads as a laptop, monitor or book to this model.
HANDHELD = tuple(LABELS.index(n) for n in ("Laptop", "Computer monitor", "Book", "Camera", "Computer mouse"))
INPUT_SIDE = 300
POSE_SIDE = 256
BOX_SCALES = (10.0, 10.0, 5.0, 5.0)  # y, x, h, w
TILE_SHARE = 0.6  # each of the four tiles covers 60 % of the frame's width and height


def ssd_anchors() -> np.ndarray:
    """(1917, 4) anchors as (y centre, x centre, height, width), normalised."""
    feature_maps, layers, lo, hi = (19, 10, 5, 3, 2, 1), 6, 0.2, 0.95

    def scale(i: int) -> float:
        return lo + (hi - lo) * i / (layers - 1)

    out = []
    for i, side in enumerate(feature_maps):
        if i == 0:
            specs = [(0.1, 1.0), (scale(0), 2.0), (scale(0), 0.5)]
        else:
            s, s_next = scale(i), (scale(i + 1) if i < layers - 1 else 1.0)
            specs = [(s, a) for a in (1.0, 2.0, 0.5, 3.0, 0.3333)] + [(math.sqrt(s * s_next), 1.0)]
        for y in range(side):
            for x in range(side):
                out.extend(((y + 0.5) / side, (x + 0.5) / side, s / math.sqrt(a), s * math.sqrt(a)) for s, a in specs)
    return np.asarray(out, np.float32)


ANCHORS = ssd_anchors()
_local = threading.local()


def _interpreter(name: str) -> Interpreter:
    """One interpreter per model and thread (LiteRT interpreters are not thread-safe)."""
    cache = _local.__dict__.setdefault("interpreters", {})
    if name not in cache:
        it = Interpreter(model_path=str(model_path(name)), num_threads=1)
        it.allocate_tensors()
        cache[name] = it
    return cache[name]


def models_ready() -> bool:
    """True when every model file is present and verified (no exception)."""
    for name in manifest():
        model_path(name)
    return True


def warm_up() -> None:
    """Load both interpreters in this thread now, so the first image does not pay for it."""
    for name in manifest():
        _interpreter(name)


def detect(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) as normalised x0, y0, x1, y1 and class scores (N, 24), before any threshold."""
    it = _interpreter("person_detector")
    x = cv2.resize(rgb, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1.0
    inp = it.get_input_details()[0]["index"]
    out_boxes, out_scores = (d["index"] for d in it.get_output_details())
    it.set_tensor(inp, x[None])
    it.invoke()
    raw, logits = it.get_tensor(out_boxes)[0], it.get_tensor(out_scores)[0]
    a = ANCHORS
    yc = raw[:, 0] / BOX_SCALES[0] * a[:, 2] + a[:, 0]
    xc = raw[:, 1] / BOX_SCALES[1] * a[:, 3] + a[:, 1]
    h = np.exp(raw[:, 2] / BOX_SCALES[2]) * a[:, 2]
    w = np.exp(raw[:, 3] / BOX_SCALES[3]) * a[:, 3]
    boxes = np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)
    return boxes, 1.0 / (1.0 + np.exp(-logits))


def detect_tiled(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``detect`` on the whole frame, plus four overlapping tiles when the frame's longer side is at least twice
    the model's input: a person a few dozen pixels tall in a large frame shrinks below what the detector sees.
    The longer side, not the shorter: an HD camera's 16:9 frame (800 x 450 once analysed) squeezes its width
    2.7 times into the model's square. Asked of the shorter side, such frames got no tiles: on outside photos set
    side by side in 2:1 frames, 53 % of the labelled helmets were on a person found; with tiles 63 % (the photos
    one by one: 66 %).

    A tile's box that touches the tile's inner edge is part of someone cut by the tile: it is dropped
    (the whole-frame pass or the neighbouring tile sees that person whole).
    """
    boxes, scores = detect(rgb)
    height, width = rgb.shape[:2]
    if max(height, width) < 2 * INPUT_SIDE:
        return boxes, scores
    all_boxes, all_scores = [boxes], [scores]
    tw, th = int(width * TILE_SHARE), int(height * TILE_SHARE)
    for ty in (0, height - th):
        for tx in (0, width - tw):
            b, s = detect(rgb[ty : ty + th, tx : tx + tw])
            b = b * [tw / width, th / height, tw / width, th / height] + [tx / width, ty / height, tx / width, ty / height]
            margin = 0.01
            cut = (
                ((b[:, 0] < (tx / width) + margin) & (tx > 0))
                | ((b[:, 2] > (tx + tw) / width - margin) & (tx + tw < width))
                | ((b[:, 1] < (ty / height) + margin) & (ty > 0))
                | ((b[:, 3] > (ty + th) / height - margin) & (ty + th < height))
            )
            s = s.copy()
            s[cut] = 0.0
            all_boxes.append(b.astype(np.float32))
            all_scores.append(s)
    return np.concatenate(all_boxes), np.concatenate(all_scores)


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(others) - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, *, threshold: float, overlap: float) -> list[int]:
    """Greedy non-maximum suppression: indices of kept boxes, best first."""
    candidates = np.flatnonzero(scores >= threshold)
    order = [int(i) for i in candidates[np.argsort(-scores[candidates])]]
    keep: list[int] = []
    for i in order:
        if not keep or float(iou(boxes[i], boxes[keep]).max()) < overlap:
            keep.append(i)
    return keep


def objects(boxes: np.ndarray, scores: np.ndarray, width: int, height: int, *, threshold: float = 0.2) -> list[dict]:
    """Non-person objects after per-class NMS: label, score, pixel box, and whether it is handheld."""
    out = []
    scale = np.array([width, height, width, height], np.float32)
    for k in range(1, len(LABELS)):
        if k == PERSON or float(scores[:, k].max()) < threshold:
            continue
        for i in nms(boxes, scores[:, k], threshold=threshold, overlap=0.5)[:5]:
            out.append(
                {
                    "label": LABELS[k],
                    "score": round(float(scores[i, k]), 3),
                    "box_px": [int(v) for v in boxes[i] * scale],
                    "handheld": k in HANDHELD,
                }
            )
    return out


POSE_DETECTOR_SIDE = 224
CLOSE_PERSON_THRESHOLD = 0.5  # MediaPipe's own threshold for this detector


def _letterbox(rgb: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``rgb`` centred on a black square (the pose models want a square, undistorted input) and its x, y offset."""
    h, w = rgb.shape[:2]
    side = max(h, w)
    square = np.zeros((side, side, 3), np.uint8)
    ox, oy = (side - w) // 2, (side - h) // 2
    square[oy : oy + h, ox : ox + w] = rgb
    return square, ox, oy


def pose_detector_anchors() -> np.ndarray:
    """(2254, 2) anchor centres (x, y), normalised, as MediaPipe's ``SsdAnchorsCalculator`` makes them for the
    BlazePose detector: strides 8, 16, 32, 32, 32 on a 224 input, two fixed-size anchors per layer and cell,
    layers of one stride sharing a grid."""
    strides, out, layer = (8, 16, 32, 32, 32), [], 0
    while layer < len(strides):
        same = sum(1 for s in strides[layer:] if s == strides[layer])
        side = math.ceil(POSE_DETECTOR_SIDE / strides[layer])
        for y in range(side):
            for x in range(side):
                out.extend([((x + 0.5) / side, (y + 0.5) / side)] * (2 * same))
        layer += same
    return np.asarray(out, np.float32)


POSE_ANCHORS = pose_detector_anchors()


def close_people(rgb: np.ndarray) -> list[dict]:
    """People found by the BlazePose detector, which finds a person by the face and upper body: strong where the
    SSD detector is weak (close-ups, portraits, people cut by the frame), blind to small people. Each has a score,
    a face box and the detector's hips centre (its first alignment point), in image pixels.
    The model's box is a fixed size (a fifth of the frame's longer side) about its anchor: its centre says where
    the face is, its size nothing. ``body`` is its second alignment point: with the hips it sets the square the
    landmark model was trained to read (see ``pose_in_view``)."""
    it = _interpreter("pose_detector")
    square, ox, oy = _letterbox(rgb)
    side = square.shape[0]
    x = cv2.resize(square, (POSE_DETECTOR_SIDE, POSE_DETECTOR_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    it.set_tensor(it.get_input_details()[0]["index"], (x / 127.5 - 1.0)[None])
    it.invoke()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    raw = it.get_tensor(outs["Identity"])[0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(it.get_tensor(outs["Identity_1"])[0, :, 0], -80, 80)))
    # Decoded as MediaPipe's TensorsToDetectionsCalculator does for this model (x before y, scale 224).
    centres = raw[:, :2] / POSE_DETECTOR_SIDE + POSE_ANCHORS
    sizes = raw[:, 2:4] / POSE_DETECTOR_SIDE
    hips = raw[:, 4:6] / POSE_DETECTOR_SIDE + POSE_ANCHORS
    body = raw[:, 6:8] / POSE_DETECTOR_SIDE + POSE_ANCHORS
    faces = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1) * side - [ox, oy, ox, oy]
    keep = nms(faces, scores, threshold=CLOSE_PERSON_THRESHOLD, overlap=0.3)
    return [
        {
            "score": float(scores[i]),
            "face": faces[i],
            "hips": hips[i] * side - [ox, oy],
            "body": body[i] * side - [ox, oy],
        }
        for i in keep
    ]


def _landmark_model(square: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The landmark model on a POSE_SIDE square: landmarks (x, y in its pixels, z, visibility, presence), its
    "a person is here" score and the silhouette (POSE_SIDE square, 0..1)."""
    it = _interpreter("pose_landmarks")
    it.set_tensor(it.get_input_details()[0]["index"], (square.astype(np.float32) / 255.0)[None])
    it.invoke()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    raw = it.get_tensor(outs["Identity"])[0].reshape(39, 5)[:33].copy()
    raw[:, 3:5] = _sigmoid(raw[:, 3:5])
    silhouette = _sigmoid(it.get_tensor(outs["Identity_2"])[0, :, :, 0])
    return raw, float(it.get_tensor(outs["Identity_1"])[0][0]), silhouette


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))  # clipped: exp() of a large logit overflows


ROI_SCALE = 1.25  # MediaPipe's pose ROI: a square 2 x 1.25 x (hips to body point) on a side


def pose_in_view(rgb: np.ndarray, hips: np.ndarray, body: np.ndarray) -> dict | None:
    """BlazePose landmarks on the square MediaPipe's own pipeline gives the landmark model: centred on the
    detector's hips point, sized and turned by its body point, padded black beyond the frame. On a crop placed
    any other way (a close-up's box) the model's "a person is here" score swung from 0 to 1 with a few pixels of
    margin, and its landmarks with it; on this square both are steady.

    Returns the landmarks (33, 5) and the silhouette (0..1) in image pixels, that score (``flag``) and the
    person's tilt from upright in degrees; None when the points are too close to make a square.
    """
    dx, dy = float(body[0] - hips[0]), float(body[1] - hips[1])
    side = 2.0 * ROI_SCALE * math.hypot(dx, dy)
    if side < 4:
        return None
    tilt = math.pi / 2 - math.atan2(-dy, dx)  # 0 when the body point is straight above the hips
    tilt = (tilt + math.pi) % (2 * math.pi) - math.pi
    turn = np.array([[math.cos(tilt), math.sin(tilt)], [-math.sin(tilt), math.cos(tilt)]], np.float32) * POSE_SIDE / side
    affine = np.hstack([turn, (np.array([POSE_SIDE / 2, POSE_SIDE / 2], np.float32) - turn @ hips)[:, None]])
    square = cv2.warpAffine(rgb, affine, (POSE_SIDE, POSE_SIDE), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    raw, flag, seg = _landmark_model(square)
    back = cv2.invertAffineTransform(affine)
    raw[:, :2] = raw[:, :2] @ back[:, :2].T + back[:, 2]
    height, width = rgb.shape[:2]
    silhouette = cv2.warpAffine(seg.astype(np.float32), back, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return {"landmarks": raw, "flag": flag, "silhouette": silhouette, "tilt": math.degrees(tilt)}


def pose_landmarks(crop: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """BlazePose on a person crop: (33, 5) landmarks (x, y in crop pixels, z, visibility, presence),
    the pose score and the person's silhouette (crop-sized, 0..1)."""
    h, w = crop.shape[:2]
    square, ox, oy = _letterbox(crop)
    side = square.shape[0]
    raw, flag, seg = _landmark_model(cv2.resize(square, (POSE_SIDE, POSE_SIDE), interpolation=cv2.INTER_LINEAR))
    seg = cv2.resize(seg, (side, side), interpolation=cv2.INTER_LINEAR)[oy : oy + h, ox : ox + w]
    scale = side / POSE_SIDE
    raw[:, 0] = raw[:, 0] * scale - ox
    raw[:, 1] = raw[:, 1] * scale - oy
    return raw, flag, seg
