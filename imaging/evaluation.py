"""How right the analyser is about hard hats on someone else's labelled photos (YOLO layout).

A folder with ``images/`` and ``labels/`` (one ``class cx cy w h`` line per box, normalised: the
layout most labelling tools export) is scored person by person: each labelled helmet should fall
on the head of a person the analyser found and be judged a hard hat; each labelled bare head
should be judged "no hard hat". Datasets that label helmets only can say that an image without a
helmet box shows bare heads only (``bare_when_no_helmet``): every person found there counts as bare.
"""

from __future__ import annotations

import io
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from imaging.alterations import camera_faults, transform
from imaging.analysers.base import DecodedImage, ImageDecodeError, image_decode

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    helmets: list[tuple[float, float, float, float]] = field(default_factory=list)  # cx, cy, w, h (0..1)
    heads: list[tuple[float, float, float, float]] = field(default_factory=list)  # bare heads, same form
    malformed: int = 0  # label lines that are not "class cx cy w h" numbers: counted, not fatal
    heads_labelled: bool = False  # the labels have a bare-head class: a photo with none has no bare head in view


def yolo_photos(folder: Path, *, helmet_class: int, head_class: int | None = None) -> Iterator[LabelledPhoto]:
    """Photos under ``folder/images`` with their boxes from ``folder/labels`` (same stem, ``.txt``), in name order.
    A photo without a label file is skipped: unlabelled is not the same as empty."""
    for path in sorted((folder / "images").iterdir()):
        label = folder / "labels" / f"{path.stem}.txt"
        if path.suffix.lower() not in IMAGE_SUFFIXES or not label.is_file():
            continue
        helmets, heads, malformed = [], [], 0
        for line in label.read_text(errors="replace").splitlines():
            fields = line.split()
            try:
                kind, box = int(fields[0]), [float(v) for v in fields[1:]]
            except (IndexError, ValueError):
                malformed += bool(line.strip())
                continue
            if len(box) != 4:
                malformed += 1
            elif kind == helmet_class:
                helmets.append(tuple(box))
            elif kind == head_class:
                heads.append(tuple(box))
        yield LabelledPhoto(path, helmets, heads, malformed, heads_labelled=head_class is not None)


def decoded(
    photos: list[LabelledPhoto],
    progress: Callable[[int], None] | None = None,
    *,
    faults_seed: int | None = None,
) -> Iterator[tuple[LabelledPhoto, DecodedImage | None]]:
    """Each photo with its decoded image, or None when the file is not a readable image; ``progress`` hears how
    many photos are done (the unreadable ones too) after each is used. With ``faults_seed``, each image as a
    worse camera would have taken it (``with_camera_faults``)."""
    for done, photo in enumerate(photos, start=1):
        try:
            image = image_decode(photo.path.read_bytes())
        except ImageDecodeError:
            image = None
        if image is not None and faults_seed is not None:
            image = with_camera_faults(image, faults_seed, photo.path.name)
        yield photo, image
        if progress:
            progress(done)


def with_camera_faults(image: DecodedImage, seed: int, name: str) -> DecodedImage:
    """The image under photometric faults drawn from ``seed`` and the file's name (``alterations.camera_faults``):
    the same copy on every run and in every part of a folder (``--every``), another one for another seed. Nothing
    moves, so the labelled boxes still hold."""
    rgb = transform(image.rgb, camera_faults(zlib.crc32(f"{seed}:{name}".encode())))
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, "PNG")
    return DecodedImage(rgb=rgb, data=png.getvalue(), format="PNG")


def person_for_head(people: list[dict], head: tuple[float, float, float, float]) -> dict | None:
    """The found person whose box top is nearest the labelled head, among those whose upper part holds it
    and for whom it is head-sized (at least a fifth of the box's width: not a small worker behind them)."""
    cx, cy, w, h = head
    best, distance = None, float("inf")
    for person in people:
        x, y, pw, ph = person["box"]
        if x - 0.02 <= cx <= x + pw + 0.02 and y - 0.1 * ph <= cy <= y + 0.4 * ph and w >= 0.2 * pw:
            gap = abs(cy - h / 2 - y)
            if gap < distance:
                best, distance = person, gap
    return best


def bare_only(photo: LabelledPhoto, *, bare_when_no_helmet: bool) -> bool:
    """A photo the labels say shows bare heads only: no box at all, in a dataset that labels helmets alone."""
    return bare_when_no_helmet and not photo.helmets and not photo.heads


def labelled_people(analysis: dict, photo: LabelledPhoto, *, bare_when_no_helmet: bool) -> list[tuple[dict, bool]]:
    """The found people the labels speak about, each once, with whether they wear a hard hat: a labelled helmet or
    bare head on a found person's head, and (``bare_when_no_helmet``) everyone in a photo with no box at all. A
    person whose box holds both a helmet and a bare head (a crowd in one box) is left out: not one head's label."""
    people = analysis.get("people", [])
    if bare_only(photo, bare_when_no_helmet=bare_when_no_helmet):
        return [(person, False) for person in people]
    labels: dict[int, set[bool]] = {}
    for boxes, helmet in ((photo.helmets, True), (photo.heads, False)):
        for box in boxes:
            person = person_for_head(people, box)
            if person is not None:
                labels.setdefault(id(person), set()).add(helmet)
    return [(p, labels[id(p)].pop()) for p in people if len(labels.get(id(p), ())) == 1]


def score_photo(analysis: dict, photo: LabelledPhoto, *, bare_when_no_helmet: bool) -> Counter:
    counts: Counter = Counter()
    people = analysis.get("people", [])
    for kind, boxes in (("helmet", photo.helmets), ("bare", photo.heads)):
        for box in boxes:
            counts[f"{kind}s"] += 1
            person = person_for_head(people, box)
            if person is None:
                counts[f"{kind}s missed"] += 1
                continue
            counts[f"{kind}s judged {_verdict(person)}"] += 1
    if bare_only(photo, bare_when_no_helmet=bare_when_no_helmet):
        counts["bare-only photos"] += 1
        counts["bare-only photos with nobody found"] += not people
        for person in people:
            counts["bares"] += 1
            counts[f"bares judged {_verdict(person)}"] += 1
    return counts


def photo_truth(photo: LabelledPhoto, *, bare_when_no_helmet: bool) -> bool | None:
    """Whether everyone in view wears a hard hat, as far as the labels say: the answer the image's ``has_hard_hat``
    flag (the gallery's badge, the questions' "workers without hats") should give. A labelled bare head says no,
    and so does a photo of bare heads only (``bare_when_no_helmet``); helmets say yes only where the labels would
    have named a bare head too. Otherwise the labels do not say (None): helmets in a dataset that labels nothing
    else leave the unlabelled bare heads unknown."""
    if photo.heads or bare_only(photo, bare_when_no_helmet=bare_when_no_helmet):
        return False
    if photo.helmets and photo.heads_labelled:
        return True
    return None


def score_image_flag(analysis: dict, photo: LabelledPhoto, *, bare_when_no_helmet: bool) -> Counter:
    """The photo's own hard-hat flag against ``photo_truth``, where the labels decide it: right, wrong, unsure, or
    nobody found (counted apart: a flag left unknown because no person was seen is a miss of the detector)."""
    truth = photo_truth(photo, bare_when_no_helmet=bare_when_no_helmet)
    if truth is None:
        return Counter()
    flag = (analysis.get("has_hard_hat") or {}).get("value")
    if not analysis.get("people"):
        verdict = "nobody found"
    elif flag is None:
        verdict = "unsure"
    else:
        verdict = "right" if flag == truth else "wrong"
    return Counter({"photos decided": 1, f"photos {verdict}": 1})


def _verdict(person: dict) -> str:
    return {True: "hat", False: "no hat", None: "unsure"}[person["hard_hat"]["value"]]


def evaluate(
    photos: list[LabelledPhoto],
    analyse: Callable[[DecodedImage], dict],
    *,
    bare_when_no_helmet: bool = False,
    progress: Callable[[int], None] | None = None,
    faults_seed: int | None = None,
) -> dict:
    """Totals and shares: of labelled helmets, how many were judged a hard hat (``helmet recall``); of bare
    people, how many were judged bare (``bare recall``); of the photos whose labels decide it (``photo_truth``),
    how many got the right hard-hat flag (``photo accuracy``: an unsure flag or nobody found counts as wrong;
    ``photo accuracy when sure`` leaves those out); unreadable photos are counted and skipped. With
    ``faults_seed``, on copies under camera faults (``with_camera_faults``)."""
    counts: Counter = Counter()
    for photo, image in decoded(photos, progress, faults_seed=faults_seed):
        counts["malformed label lines"] += photo.malformed
        if image is None:
            counts["unreadable photos"] += 1
        else:
            counts["photos"] += 1
            analysis = analyse(image)
            counts.update(score_photo(analysis, photo, bare_when_no_helmet=bare_when_no_helmet))
            counts.update(score_image_flag(analysis, photo, bare_when_no_helmet=bare_when_no_helmet))
    return {"counts": {name: n for name, n in counts.items() if n}, **_shares(counts)}


def _shares(counts: Counter) -> dict:
    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    helmets, bares, decided = counts["helmets"], counts["bares"], counts["photos decided"]
    return {
        "helmet recall": share(counts["helmets judged hat"], helmets),
        "helmets on a found person": share(helmets - counts["helmets missed"], helmets),
        "helmets judged no hat": share(counts["helmets judged no hat"], helmets),
        "bare recall": share(counts["bares judged no hat"], bares),
        "bare judged hat": share(counts["bares judged hat"], bares),
        "photo accuracy": share(counts["photos right"], decided),
        "photo accuracy when sure": share(counts["photos right"], counts["photos right"] + counts["photos wrong"]),
    }


def hat_model_rows(
    photos: list[LabelledPhoto],
    analyse: Callable[[DecodedImage], dict],
    *,
    bare_when_no_helmet: bool,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[list[float]], list[bool], int]:
    """The learned hat model's training rows: each labelled person's ``hat_evidence`` (``analyse`` must keep it)
    and whether they wear a hard hat; and how many photos could not be read."""
    rows, helmets, unreadable = [], [], 0
    for photo, image in decoded(photos, progress):
        if image is None:
            unreadable += 1
            continue
        for person, helmet in labelled_people(analyse(image), photo, bare_when_no_helmet=bare_when_no_helmet):
            rows.append(person["hat_evidence"])
            helmets.append(helmet)
    return rows, helmets, unreadable
