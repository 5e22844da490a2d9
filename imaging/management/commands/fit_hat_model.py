"""fit_hat_model FOLDER --helmet-class N: fit the learned hard-hat model on labelled photos (YOLO layout)."""

import json
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from imaging.analysers import hat_model, ssd
from imaging.analysers.base import ImageDecodeError, image_decode
from imaging.analysers.model_files import ModelMissing
from imaging.analysers.neural import analyse_neural
from imaging.evaluation import labelled_people, yolo_photos
from tier0site.progress import Progress


class Command(BaseCommand):
    help = (
        "Fit the neural analyser's learned hard-hat model on labelled photos: FOLDER/images and FOLDER/labels "
        "(YOLO: 'class cx cy w h' per line). Each labelled helmet on a found person is a hard hat, each labelled "
        "bare head (or, with --bare-when-no-helmet, each person in a photo without a helmet box) is none. "
        f"Writes the weights and what they were fitted on to --out (default {hat_model.WEIGHTS_FILE})."
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
        parser.add_argument("--every", type=int, default=1, help="take every Nth photo (with --offset: a part)")
        parser.add_argument("--offset", type=int, default=0, help="start at this photo (0-based)")
        parser.add_argument("--ridge", type=float, default=0.01, help="L2 penalty of the fit")
        parser.add_argument("--out", type=Path, default=hat_model.WEIGHTS_FILE)
        parser.add_argument("--source", default="", help="where the photos come from and their licence (recorded)")

    def handle(self, *args, **options):
        folder = options["folder"]
        if not (folder / "images").is_dir() or not (folder / "labels").is_dir():
            raise CommandError(f"{folder} needs images/ and labels/ folders (YOLO layout)")
        if options["every"] < 1 or options["offset"] < 0:
            raise CommandError("--every must be at least 1 and --offset at least 0")
        try:
            ssd.models_ready()
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        photos = list(yolo_photos(folder, helmet_class=options["helmet_class"], head_class=options["head_class"]))
        photos = photos[options["offset"] :: options["every"]]
        rows, labels, unreadable = [], [], 0
        progress = Progress("fit_hat_model", total=len(photos), unit="img")
        for done, photo in enumerate(photos, start=1):
            try:
                analysis = analyse_neural(image_decode(photo.path.read_bytes()), evidence=True)
            except ImageDecodeError:
                unreadable += 1
            else:
                for person, helmet in labelled_people(analysis, photo, bare_when_no_helmet=options["bare_when_no_helmet"]):
                    rows.append(person["hat_evidence"])
                    labels.append(1.0 if helmet else 0.0)
            progress(done)
        progress.close()
        x, y = np.array(rows, np.float64).reshape(-1, hat_model.FEATURES), np.array(labels)
        try:
            weights = hat_model.fit(x, y, ridge=options["ridge"])
        except ValueError as exc:
            raise CommandError(f"{exc} (found {int(y.sum())} helmeted and {int(len(y) - y.sum())} bare-headed people)") from exc
        predicted = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ weights))) >= 0.5
        report = {
            "fitted_on": {
                "folder": folder.name if folder.name not in ("train", "test", "valid") else f"{folder.parent.name}/{folder.name}",
                "source": options["source"],
                "photos": len(photos),
                "unreadable photos": unreadable,
                "every": options["every"],
                "offset": options["offset"],
                "helmeted people": int(y.sum()),
                "bare-headed people": int(len(y) - y.sum()),
                "ridge": options["ridge"],
            },
            "training accuracy": {
                "helmeted people": round(float(predicted[y == 1].mean()), 3),
                "bare-headed people": round(float((~predicted[y == 0]).mean()), 3),
            },
            "features": hat_model.FEATURES,
        }
        options["out"].write_text(json.dumps({**report, "weights": [round(float(w), 6) for w in weights]}, indent=1) + "\n")
        self.stdout.write(json.dumps({**report, "out": str(options["out"])}))
