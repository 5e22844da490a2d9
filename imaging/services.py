"""Writes: scanning image folders, (re)analysing changed images, human review.

Scanning walks the category folders, decides a site per image (sidecar mapping
``sites.json`` or a stable hash rule), and analyses only new or changed images
(same size and mtime: unchanged without reading; otherwise the SHA-256 of the
bytes decides). Broken files are reported and skipped, never fatal. A person's
review is kept in ``review`` and wins over every later analysis.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from imaging.analysers.base import Analyser, ImageDecodeError, image_decode
from imaging.compliance import REVIEWABLE, record_effective
from imaging.stores import ImageStore
from telemetry.device_types import SITES
from tier0site import live

logger = logging.getLogger(__name__)

CATEGORY_TYPES = {
    "TurbineImages": "turbine",
    "ThermalEngines": "thermal_engine",
    "ElectricalRotors": "electrical_rotor",
    "OilAndGas": "connected_device",
}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
SIDECAR = "sites.json"
SITE_IDS = tuple(SITES)


@dataclass
class ScanReport:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.new + self.changed

    def as_dict(self) -> dict:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "processed": self.processed,
            "seconds": round(self.seconds, 3),
        }


def site_for(*, device_type: str, relative_path: str, mapping: dict[str, str]) -> str:
    """The sidecar's site if it names this file, else a stable hash of type and path over the ten sites."""
    name = relative_path.rsplit("/", 1)[-1]
    for key in (relative_path, name):
        if key in mapping:
            return mapping[key]
    return SITE_IDS[zlib.crc32(f"{device_type}/{relative_path}".encode()) % len(SITE_IDS)]


def _load_mapping(root: Path, report: ScanReport) -> dict[str, str]:
    """``sites.json`` at the root or in a category folder: {"file or category/file": "SITE"}."""
    mapping: dict[str, str] = {}
    for sidecar in [root / SIDECAR, *(root / c / SIDECAR for c in CATEGORY_TYPES)]:
        if not sidecar.is_file():
            continue
        try:
            data = json.loads(sidecar.read_text())
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise ValueError("expected an object of file name to site id")
        except (OSError, ValueError) as exc:
            report.skipped.append({"path": str(sidecar), "reason": f"bad site mapping: {exc}"})
            continue
        prefix = "" if sidecar.parent == root else f"{sidecar.parent.name}/"
        for key, site in data.items():
            mapping[key if "/" in key or not prefix else prefix + key] = site
    return mapping


def _candidates(root: Path, report: ScanReport) -> list[tuple[Path, str, str]]:
    """(file, relative path, device type) for every file under a known category folder."""
    found = []
    for category, device_type in CATEGORY_TYPES.items():
        folder = root / category
        if not folder.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(folder):
            for name in sorted(files):
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if name == SIDECAR or name.startswith("."):
                    continue
                if path.suffix.lower() not in IMAGE_EXTENSIONS:
                    report.skipped.append({"path": str(path), "reason": "not an image file"})
                    continue
                found.append((path, rel, device_type))
    return found


def image_process(*, path: Path, data: bytes, existing: dict | None, analyser: Analyser, base: dict) -> dict:
    """Analyse one decoded image and build its record (keeping any review)."""
    image = image_decode(data)
    analysis = analyser.analyse(image)
    embedding, embedding_model = analyser.embed(image, analysis)
    review = (existing or {}).get("review") or {}
    record = {
        **base,
        "width": image.width,
        "height": image.height,
        "analysis": analysis,
        "review": review,
        "reviewed_by": (existing or {}).get("reviewed_by", ""),
        "reviewed_at": (existing or {}).get("reviewed_at"),
        "embedding": embedding,
        "embedding_model": embedding_model,
        "provider": analysis.get("provider", getattr(analyser, "name", "")),
        "processed_at": timezone.now(),
    }
    record.update(record_effective(analysis=analysis, review=review, site_id=base["auto_site_id"]))
    return record


def images_scan(
    *,
    root: Path | str,
    store: ImageStore,
    analyser: Analyser,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ScanReport:
    """Scan ``root``'s category folders once; return what was new, changed, unchanged or skipped.

    The analyses run on ``workers`` threads (default ``settings.IMAGES_SCAN_WORKERS``): the models and OpenCV
    release the GIL, so a scan uses every core. The store is read and written on this thread only, in the
    folders' order, with at most two images per worker waiting in between (memory stays bounded)."""
    started = time.perf_counter()
    root = Path(root).resolve()
    report = ScanReport()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    mapping = _load_mapping(root, report)
    updates = live.Publisher(live.IMAGES, merge=_merge_update)
    workers = max(1, workers or settings.IMAGES_SCAN_WORKERS)
    pool = _analysis_pool(workers)
    waiting: deque[tuple[int, Path, dict | None, Future | None]] = deque()
    try:
        for done, (path, rel, device_type) in enumerate(_candidates(root, report), start=1):
            waiting.append((done, path, *_submit(pool, path, rel, device_type, store, mapping, analyser, report)))
            while len(waiting) > 2 * workers:
                _finish(*waiting.popleft(), store=store, report=report, updates=updates, progress=progress)
        while waiting:
            _finish(*waiting.popleft(), store=store, report=report, updates=updates, progress=progress)
    finally:
        for *_, future in waiting:  # the store failed: analyses not yet started are dropped
            if future:
                future.cancel()
    report.seconds = time.perf_counter() - started
    updates.flush(force=True)
    return report


@functools.cache
def _analysis_pool(workers: int) -> ThreadPoolExecutor:
    """One pool per size for the process's life: its threads keep their loaded models (one interpreter per model
    and thread) from scan to scan, which a watcher rescanning every few seconds would otherwise reload."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="image-analysis")


def _submit(
    pool: ThreadPoolExecutor,
    path: Path,
    rel: str,
    device_type: str,
    store: ImageStore,
    mapping: dict[str, str],
    analyser: Analyser,
    report: ScanReport,
) -> tuple[dict | None, Future | None]:
    """The file's stored record and its analysis under way; no analysis when the file is unchanged (counted
    here) or unreadable (reported here)."""
    try:
        stat = path.stat()
        existing = store.get_by_path(str(path))
        auto_site = site_for(device_type=device_type, relative_path=rel, mapping=mapping)
        same_file = existing and existing["file_size"] == stat.st_size and existing["file_mtime"] == stat.st_mtime
        if same_file and existing.get("auto_site_id") == auto_site:
            report.unchanged += 1
            return existing, None
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if existing and existing["content_hash"] == digest and existing.get("auto_site_id") == auto_site:
            # Touched but not changed: remember the new mtime, skip the analysis.
            store.save({**existing, "file_mtime": stat.st_mtime, "file_size": stat.st_size})
            report.unchanged += 1
            return existing, None
    except OSError as exc:
        _skip(report, path, f"cannot read: {exc.strerror or exc}")
        return None, None
    except DatabaseError:
        raise  # the store is down: not this file's fault; the whole scan fails (--watch retries it)
    except Exception as exc:  # noqa: BLE001 - a store's odd answer about one file must never stop the scan
        _skip(report, path, f"analysis failed: {type(exc).__name__}: {exc}", exc)
        return None, None
    base = {
        "path": str(path),
        "filename": path.name,
        "category": rel.split("/", 1)[0],
        "device_type": device_type,
        "auto_site_id": auto_site,
        "content_hash": digest,
        "file_size": stat.st_size,
        "file_mtime": stat.st_mtime,
    }
    return existing, pool.submit(image_process, path=path, data=data, existing=existing, analyser=analyser, base=base)


def _finish(
    done: int,
    path: Path,
    existing: dict | None,
    analysis: Future | None,
    *,
    store: ImageStore,
    report: ScanReport,
    updates: live.Publisher,
    progress: Callable[[int], None] | None,
) -> None:
    """Store one file's finished analysis (or report why it has none), in scan order."""
    try:
        if analysis is None:
            return
        record = analysis.result()
        saved = store.save(record)
        report.ids.append(saved["id"])
        if existing:
            report.changed += 1
        else:
            report.new += 1
        # The gallery hears of new records about once a second during a long scan.
        updates.add({"new": 0 if existing else 1, "changed": 1 if existing else 0})
        updates.flush()
    except ImageDecodeError as exc:
        _skip(report, path, str(exc))
    except DatabaseError:
        raise  # the store is down: not this file's fault; the whole scan fails (--watch retries it)
    except Exception as exc:  # noqa: BLE001 - one file (or an analyser bug on it) must never stop the scan
        _skip(report, path, f"analysis failed: {type(exc).__name__}: {exc}", exc)
    finally:
        if progress:
            progress(done)


def _skip(report: ScanReport, path: Path, reason: str, error: Exception | None = None) -> None:
    """Report a file the scan could not store; an unexpected ``error`` is logged with its traceback."""
    report.skipped.append({"path": str(path), "reason": reason})
    logger.warning("skipped image %s: %s", path, reason, exc_info=error)


def _merge_update(pending: dict | None, update: dict) -> dict:
    """Coalesced ``images.update``: how many records were new or changed since the last one."""
    pending = pending or {"new": 0, "changed": 0}
    return {"new": pending["new"] + update["new"], "changed": pending["changed"] + update["changed"]}


def images_watch(
    *,
    root: Path | str,
    store: ImageStore,
    analyser: Analyser,
    stop,
    interval_s: float = 5.0,
    on_report: Callable[[ScanReport], None] | None = None,
) -> None:
    """Rescan every ``interval_s`` until ``stop`` (a ShutdownFlag) is set; cheap when nothing changed."""
    while not stop.is_set:
        close_old_connections()  # a database restart between scans: reconnect instead of failing forever
        try:
            report = images_scan(root=root, store=store, analyser=analyser)
        except Exception as exc:  # noqa: BLE001 - the watcher outlives a vanished folder or a database outage
            logger.warning("image scan of %s failed: %s; retrying in %ss", root, exc, interval_s)
            report = ScanReport(skipped=[{"path": str(root), "reason": f"scan failed: {type(exc).__name__}: {exc}"}])
        if on_report:
            on_report(report)
        if stop.wait(interval_s):
            break


class ReviewError(ValueError):
    """A review names a field that cannot be reviewed or gives a wrong value."""


def _review_clean(changes: dict) -> dict:
    clean = {}
    for key, value in changes.items():
        if key not in REVIEWABLE:
            raise ReviewError(f"{key!r} cannot be reviewed (allowed: {', '.join(REVIEWABLE)})")
        if value is None:
            clean[key] = None  # None clears the reviewed value
        elif key == "persons":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ReviewError("persons must be a whole number >= 0")
            clean[key] = value
        elif key.startswith("has_"):
            if not isinstance(value, bool):
                raise ReviewError(f"{key} must be true or false")
            clean[key] = value
        elif key == "keywords":
            if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                raise ReviewError("keywords must be a list of strings")
            clean[key] = [k.strip().lower() for k in value if k.strip()][:50]
        elif key == "site_id":
            if value not in SITE_IDS:
                raise ReviewError(f"unknown site {value!r}")
            clean[key] = value
        else:
            if not isinstance(value, str):
                raise ReviewError(f"{key} must be text")
            clean[key] = value[:2000]
    return clean


def image_review(*, store: ImageStore, image_id: str, changes: dict, reviewer: str) -> dict | None:
    """Apply a person's corrections; ``None`` for a field drops that correction. None if no such image."""
    record = store.get(image_id)
    if record is None:
        return None
    clean = _review_clean(changes)
    full = record
    review = dict(full.get("review") or {})
    for key, value in clean.items():
        if value is None:
            review.pop(key, None)
        else:
            review[key] = value
    updated = {
        **full,
        "review": review,
        "reviewed_by": reviewer if review else "",
        "reviewed_at": timezone.now() if review else None,
    }
    updated.update(record_effective(analysis=full.get("analysis") or {}, review=review, site_id=full["auto_site_id"]))
    return store.save(updated)
