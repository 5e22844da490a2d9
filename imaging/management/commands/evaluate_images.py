"""evaluate_images FOLDER --helmet-class N: score the hard-hat judgements on labelled photos (YOLO layout)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imaging.analysers import analyser_offline
from imaging.analysers.model_files import ModelMissing
from imaging.evaluation import evaluate, yolo_photos
from tier0site.progress import Progress


class Command(BaseCommand):
    help = (
        "Score the offline analyser's hard-hat judgements on labelled photos: FOLDER/images and FOLDER/labels "
        "(YOLO: 'class cx cy w h' per line). Prints helmet recall and bare-head recall as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--helmet-class", type=int, required=True, help="label class number of a helmet")
        parser.add_argument("--head-class", type=int, help="label class number of a bare head, if the labels have one")
        parser.add_argument(
            "--bare-when-no-helmet",
            action="store_true",
            help="a photo with no helmet box shows bare heads only (datasets that label helmets alone)",
        )
        parser.add_argument("--every", type=int, default=1, help="take every Nth photo (with --offset: a half)")
        parser.add_argument("--offset", type=int, default=0, help="start at this photo (0-based)")

    def handle(self, *args, **options):
        folder = options["folder"]
        if not (folder / "images").is_dir() or not (folder / "labels").is_dir():
            raise CommandError(f"{folder} needs images/ and labels/ folders (YOLO layout)")
        if options["every"] < 1 or options["offset"] < 0:
            raise CommandError("--every must be at least 1 and --offset at least 0")
        try:
            analyser = analyser_offline()
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        photos = list(yolo_photos(folder, helmet_class=options["helmet_class"], head_class=options["head_class"]))
        photos = photos[options["offset"] :: options["every"]]
        progress = Progress("evaluate_images", total=len(photos), unit="img")
        report = evaluate(photos, analyser.analyse, bare_when_no_helmet=options["bare_when_no_helmet"], progress=progress)
        progress.close()
        self.stdout.write(json.dumps({"analyser": analyser.name, "folder": str(folder), **report}))
