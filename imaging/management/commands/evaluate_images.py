"""evaluate_images FOLDER --helmet-class N: score the hard-hat judgements on labelled photos (YOLO layout)."""

import json

from django.core.management.base import BaseCommand, CommandError

from imaging.analysers import analyser_offline
from imaging.analysers.model_files import ModelMissing
from imaging.evaluation import evaluate
from imaging.management import yolo_options
from tier0site.progress import Progress


class Command(BaseCommand):
    help = (
        "Score the offline analyser's hard-hat judgements on labelled photos: FOLDER/images and FOLDER/labels "
        "(YOLO: 'class cx cy w h' per line). Prints helmet recall, bare-head recall and how often each photo's own "
        "hard-hat flag is right where the labels decide it, as JSON."
    )

    def add_arguments(self, parser):
        yolo_options.add_arguments(parser)
        parser.add_argument(
            "--camera-faults",
            type=int,
            metavar="SEED",
            help="score copies under one to three photometric faults each (casts, exposure, noise, blur, "
            "posterising, heavy JPEG...), drawn from SEED and each file's name: how the judgements hold up "
            "on a worse camera",
        )

    def handle(self, *args, **options):
        photos = yolo_options.photos(options)
        try:
            analyser = analyser_offline()
        except ModelMissing as exc:
            raise CommandError(str(exc)) from exc
        progress = Progress("evaluate_images", total=len(photos), unit="img")
        report = evaluate(
            photos,
            analyser.analyse,
            bare_when_no_helmet=options["bare_when_no_helmet"],
            progress=progress,
            faults_seed=options["camera_faults"],
        )
        progress.close()
        header = {"analyser": analyser.name, "folder": str(options["folder"]), "camera_faults": options["camera_faults"]}
        self.stdout.write(json.dumps({**header, **report}))
