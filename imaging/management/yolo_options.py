"""The options both labelled-photo commands take (``evaluate_images``, ``fit_hat_model``), read one way."""

from pathlib import Path

from django.core.management.base import CommandError

from imaging.evaluation import LabelledPhoto, yolo_photos


def add_arguments(parser) -> None:
    parser.add_argument("folder", type=Path)
    parser.add_argument("--helmet-class", type=int, required=True, help="label class number of a helmet")
    parser.add_argument("--head-class", type=int, help="label class number of a bare head, if the labels have one")
    parser.add_argument(
        "--bare-when-no-helmet",
        action="store_true",
        help="a photo with no helmet box shows bare heads only (datasets that label helmets alone)",
    )
    parser.add_argument("--every", type=int, default=1, help="take every Nth photo (with --offset: a part)")
    parser.add_argument("--offset", type=int, default=0, help="start at this photo (0-based)")


def photos(options: dict) -> list[LabelledPhoto]:
    """The labelled photos the options name, or a clear error for a folder or a part that cannot be read."""
    folder = options["folder"]
    if not (folder / "images").is_dir() or not (folder / "labels").is_dir():
        raise CommandError(f"{folder} needs images/ and labels/ folders (YOLO layout)")
    if options["every"] < 1 or options["offset"] < 0:
        raise CommandError("--every must be at least 1 and --offset at least 0")
    found = yolo_photos(folder, helmet_class=options["helmet_class"], head_class=options["head_class"])
    return list(found)[options["offset"] :: options["every"]]
