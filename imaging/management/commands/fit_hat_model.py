"""fit_hat_model FOLDER --helmet-class N: fit the learned hard-hat model on labelled photos (YOLO layout)."""

import json
from functools import partial
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from imaging.analysers import hat_model, ssd
from imaging.analysers.model_files import ModelMissing
from imaging.analysers.neural import analyse_neural
from imaging.evaluation import hat_model_rows
from imaging.management import yolo_options
from tier0site.progress import Progress


class Command(BaseCommand):
    help = (
        "Fit the neural analyser's learned hard-hat model on labelled photos: FOLDER/images and FOLDER/labels "
        "(YOLO: 'class cx cy w h' per line). Each labelled helmet on a found person is a hard hat, each labelled "
        "bare head (or, with --bare-when-no-helmet, each person in a photo without a helmet box) is none. "
        f"Writes the weights and what they were fitted on to --out (default {hat_model.WEIGHTS_FILE})."
    )

    def add_arguments(self, parser):
        yolo_options.add_arguments(parser)
        parser.add_argument("--ridge", type=float, default=0.01, help="L2 penalty of the fit")
        parser.add_argument("--out", type=Path, default=hat_model.WEIGHTS_FILE)
        parser.add_argument("--source", default="", help="where the photos come from and their licence (recorded)")

    def handle(self, *args, **options):
        folder = options["folder"]
        photos = yolo_options.photos(options)
        if not options["out"].parent.is_dir():  # found out now, not after minutes of analysis
            raise CommandError(f"--out {options['out']}: no folder {options['out'].parent}")
        try:
            ssd.models_ready()
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        progress = Progress("fit_hat_model", total=len(photos), unit="img")
        rows, helmets, unreadable = hat_model_rows(
            photos,
            partial(analyse_neural, evidence=True),
            bare_when_no_helmet=options["bare_when_no_helmet"],
            progress=progress,
        )
        progress.close()
        x, y = np.array(rows, np.float64).reshape(-1, hat_model.FEATURES), np.array(helmets, np.float64)
        try:
            weights = hat_model.fit(x, y, ridge=options["ridge"])
        except ValueError as exc:
            found = f"found {int(y.sum())} helmeted and {int(len(y) - y.sum())} bare-headed people"
            raise CommandError(f"{exc} ({found})") from exc
        said_hat = hat_model.predict(x, weights) >= 0.5
        report = {
            "fitted_on": {
                "folder": f"{folder.parent.name}/{folder.name}",  # not the full path: it is this machine's
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
                "helmeted people": round(float(said_hat[y == 1].mean()), 3),
                "bare-headed people": round(float((~said_hat[y == 0]).mean()), 3),
            },
            "features": hat_model.FEATURES,
        }
        options["out"].write_text(json.dumps({**report, "weights": [round(float(w), 6) for w in weights]}, indent=1) + "\n")
        self.stdout.write(json.dumps({**report, "out": str(options["out"])}))
