"""Where the neural analyser's model files are, checked against the pinned manifest.

The files come from registry packages by exact version (``scripts/fetch_models.py``,
run by ``make bootstrap``); a missing or altered file is a ``ModelMissing`` that
names the command that fixes it. Nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from django.conf import settings

MANIFEST = Path(__file__).with_name("models.json")
FIX = ".venv/bin/python scripts/fetch_models.py"


class ModelMissing(RuntimeError):
    """A model file is absent or not the pinned one."""


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())["models"]


@functools.cache
def _verified(path: str, size: int, sha256: str) -> bool:
    """Hash once per process (about 30 ms for both files), not per image."""
    file = Path(path)
    if not file.is_file() or file.stat().st_size != size:
        return False
    return hashlib.sha256(file.read_bytes()).hexdigest() == sha256


def model_path(name: str) -> Path:
    spec = manifest()[name]
    path = Path(settings.IMAGES_MODELS_DIR).expanduser() / spec["file"]
    if not _verified(str(path), spec["size"], spec["sha256"]):
        state = "is not the pinned file (size or sha256 differs)" if path.exists() else "is missing"
        raise ModelMissing(f"model {name} ({spec['package']} {spec['version']}) at {path} {state}; run: {FIX}")
    return path
