"""Scanning: new, changed, unchanged, broken files, names with spaces, sites, watch mode."""

import itertools
import json
import os
import shutil
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from imaging.services import CATEGORY_TYPES, SITE_IDS, images_scan, images_watch, site_for
from imaging.stores import PostgresImageStore
from tests.imaging.conftest import jpeg_bytes, png_header, synthetic
from tests.support.waiting import wait_until
from tier0site.workers import ShutdownFlag

pytestmark = pytest.mark.django_db


def test_scan_new_then_unchanged_then_changed(image_tree, analyser):
    store = PostgresImageStore()
    first = images_scan(root=image_tree, store=store, analyser=analyser)
    assert (first.new, first.changed, first.unchanged, first.skipped) == (8, 0, 0, [])
    records = store.find({}, limit=100)[1]
    assert {r["device_type"] for r in records} == set(CATEGORY_TYPES.values())
    spaced = [r for r in records if " " in r["filename"]]
    assert spaced and spaced[0]["device_type"] == "electrical_rotor"  # "Electrical Rotors1.jpg"
    assert all(r["site_id"] in SITE_IDS for r in records)

    again = images_scan(root=image_tree, store=store, analyser=analyser)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 8)

    # Touched but identical bytes: still unchanged (content hash decides).
    target = image_tree / "TurbineImages" / "Turbine1.jpg"
    os.utime(target, (time.time() + 5, time.time() + 5))
    touched = images_scan(root=image_tree, store=store, analyser=analyser)
    assert (touched.changed, touched.unchanged) == (0, 8)

    before = store.get_by_path(str(target))
    target.write_bytes(jpeg_bytes(synthetic(1)))
    changed = images_scan(root=image_tree, store=store, analyser=analyser)
    assert (changed.new, changed.changed, changed.unchanged) == (0, 1, 7)
    after = store.get_by_path(str(target))
    assert after["id"] == before["id"] and after["content_hash"] != before["content_hash"]
    assert after["width"] == 240


def test_broken_truncated_and_foreign_files_are_reported_and_skipped(image_tree, analyser, seed_images):
    folder = image_tree / "OilAndGas"
    (folder / "notes.txt").write_text("not a picture")
    (folder / "empty photo.jpg").write_bytes(b"")
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    whole = (seed_images / "OilAndGas" / "ConnectedDevices3.jpg").read_bytes()
    (folder / "cut off.jpg").write_bytes(whole[: len(whole) // 2])
    report = images_scan(root=image_tree, store=PostgresImageStore(), analyser=analyser)
    reasons = {os.path.basename(s["path"]): s["reason"] for s in report.skipped}
    assert set(reasons) == {"notes.txt", "empty photo.jpg", "garbage.jpg", "cut off.jpg"}
    assert reasons["notes.txt"] == "not an image file"
    assert reasons["empty photo.jpg"] == "empty file"
    assert "truncated" in reasons["cut off.jpg"] or "unreadable" in reasons["cut off.jpg"]
    assert report.new == 8  # the good ones still went through


def test_site_rule_is_stable_and_sidecar_wins(image_tree, analyser):
    rule = site_for(device_type="turbine", relative_path="TurbineImages/Turbine1.jpg", mapping={})
    assert rule == site_for(device_type="turbine", relative_path="TurbineImages/Turbine1.jpg", mapping={})
    (image_tree / "sites.json").write_text(json.dumps({"TurbineImages/Turbine1.jpg": "AK-NORTH"}))
    (image_tree / "OilAndGas" / "sites.json").write_text(json.dumps({"ConnectedDevices1.jpg": "PA-RIDGE"}))
    store = PostgresImageStore()
    images_scan(root=image_tree, store=store, analyser=analyser)
    assert store.get_by_path(str(image_tree / "TurbineImages" / "Turbine1.jpg"))["site_id"] == "AK-NORTH"
    assert store.get_by_path(str(image_tree / "OilAndGas" / "ConnectedDevices1.jpg"))["site_id"] == "PA-RIDGE"


def test_labels_do_not_come_from_the_file_name(image_tree, analyser):
    """The same pixels under a misleading name get the same judgements."""
    src = image_tree / "OilAndGas" / "ConnectedDevices2.jpg"
    (image_tree / "OilAndGas" / "no people no hat.jpg").write_bytes(src.read_bytes())
    store = PostgresImageStore()
    images_scan(root=image_tree, store=store, analyser=analyser)
    a = store.get_by_path(str(src))
    b = store.get_by_path(str(image_tree / "OilAndGas" / "no people no hat.jpg"))
    assert a["persons"] == b["persons"] and a["safety_compliance"] == b["safety_compliance"]
    assert a["embedding"] == b["embedding"]


@pytest.mark.django_db(transaction=True)
def test_watch_picks_up_new_files(image_tree, analyser):
    store = PostgresImageStore()
    stop = ShutdownFlag()
    reports = []

    def watch(**kwargs):
        try:
            images_watch(**kwargs)
        finally:
            connection.close()  # the watcher thread's own connection

    thread = threading.Thread(
        target=watch,
        kwargs={
            "root": image_tree,
            "store": store,
            "analyser": analyser,
            "stop": stop,
            "interval_s": 0.2,
            "on_report": reports.append,
        },
    )
    thread.start()
    try:
        wait_until(lambda: reports, 20, 0.05, "no first scan report")
        (image_tree / "ThermalEngines" / "new arrival.jpg").write_bytes(jpeg_bytes(synthetic(7)))
        wait_until(lambda: any(r.new for r in reports[1:]), 20, 0.05, "the new arrival was not scanned")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert reports[0].new == 8
    assert any(r.new == 1 for r in reports[1:])
    assert store.get_by_path(str(image_tree / "ThermalEngines" / "new arrival.jpg"))["device_type"] == "thermal_engine"


def test_scan_images_command(image_tree):
    out = StringIO()
    (image_tree / "TurbineImages" / "broken.png").write_bytes(b"PNG?")
    call_command("scan_images", str(image_tree), "--offline", "--json", stdout=out)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert report["new"] == 8 and report["skipped"][0]["path"].endswith("broken.png")
    out = StringIO()
    call_command("scan_images", str(image_tree), "--offline", stdout=out)
    assert "new 0, changed 0, unchanged 8, skipped 1" in out.getvalue()
    assert "broken.png" in out.getvalue()


def test_scan_images_command_rejects_missing_folder(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("scan_images", str(tmp_path / "nope"), "--offline")


def test_pixel_limit_is_set_from_settings(settings):
    from PIL import Image

    assert Image.MAX_IMAGE_PIXELS == settings.IMAGES_MAX_PIXELS == 50_000_000


def test_decompression_bomb_is_reported_and_the_rest_scanned(image_tree, analyser):
    bomb = png_header(20000, 20000)
    assert len(bomb) == 69
    (image_tree / "TurbineImages" / "aaa bomb.png").write_bytes(bomb)  # sorts before the good images
    (image_tree / "OilAndGas" / "big.png").write_bytes(png_header(9000, 8000))  # 72 MP: between 1x and 2x the limit
    report = images_scan(root=image_tree, store=PostgresImageStore(), analyser=analyser)
    reasons = {os.path.basename(s["path"]): s["reason"] for s in report.skipped}
    assert set(reasons) == {"aaa bomb.png", "big.png"}
    assert "bomb" in reasons["aaa bomb.png"] or "too large" in reasons["aaa bomb.png"]
    assert report.new == 8


def test_an_analyser_failure_skips_only_that_file(image_tree, analyser):
    class Fussy:
        name = analyser.name

        def analyse(self, image):
            if image.width == 240:
                raise RuntimeError("model exploded")
            return analyser.analyse(image)

        def embed(self, image, analysis):
            return analyser.embed(image, analysis)

    (image_tree / "ThermalEngines" / "odd one.jpg").write_bytes(jpeg_bytes(synthetic(5)))
    report = images_scan(root=image_tree, store=PostgresImageStore(), analyser=Fussy())
    assert [os.path.basename(s["path"]) for s in report.skipped] == ["odd one.jpg"]
    assert "model exploded" in report.skipped[0]["reason"]
    assert report.new == 8


def test_a_scan_on_several_threads_stores_what_one_thread_stores(image_tree, analyser, tmp_path):
    """The analyses run in parallel; the records, the skipped files and the progress come out as from one thread,
    in the folders' order."""
    (image_tree / "OilAndGas" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (image_tree / "ThermalEngines" / "extra.jpg").write_bytes(jpeg_bytes(synthetic(3)))
    twin = tmp_path / "twin"
    shutil.copytree(image_tree, twin)

    def scanned(root, workers):
        store, progress = PostgresImageStore(), []
        report = images_scan(root=root, store=store, analyser=analyser, workers=workers, progress=progress.append)
        stored = [store.get_by_path(str(path)) for path in sorted(root.rglob("*.jpg"))]
        records = {r["filename"]: (r["analysis"], r["embedding"]) for r in stored if r}
        return report, records, progress

    one, one_records, one_progress = scanned(image_tree, 1)
    three, three_records, three_progress = scanned(twin, 3)
    assert (three.new, three.unchanged) == (one.new, one.unchanged) == (9, 0)
    assert [os.path.basename(s["path"]) for s in three.skipped] == ["broken.jpg"]
    assert three_records == one_records and len(three_records) == 9
    assert three_progress == one_progress == list(range(1, 11))


def test_a_scan_analyses_images_at_the_same_time(image_tree, analyser):
    """Two analyses meet at a barrier: on one thread the first would wait there alone and time out (and its file be
    skipped); on two they meet and the scan stores everything."""
    meeting, calls = threading.Barrier(2, timeout=20), itertools.count()

    class Meeting:
        name = analyser.name

        def analyse(self, image):
            if next(calls) < 2:  # the first two analyses wait for each other
                meeting.wait()
            return analyser.analyse(image)

        def embed(self, image, analysis):
            return analyser.embed(image, analysis)

    report = images_scan(root=image_tree, store=PostgresImageStore(), analyser=Meeting(), workers=2)
    assert (report.new, report.skipped) == (8, [])


def test_a_store_that_cannot_remember_one_touched_file_skips_only_that_file(image_tree, analyser):
    """A file touched but not changed only gets its new mtime stored; a store's odd failure there is that file's
    problem (reported), not the scan's."""
    store = PostgresImageStore()
    images_scan(root=image_tree, store=store, analyser=analyser)
    touched = image_tree / "TurbineImages" / "Turbine1.jpg"
    os.utime(touched, (time.time() + 5, time.time() + 5))
    (image_tree / "OilAndGas" / "late.jpg").write_bytes(jpeg_bytes(synthetic(4)))

    class Refusing(PostgresImageStore):
        def save(self, record):
            if record["path"] == str(touched):
                raise ValueError("record refused")
            return super().save(record)

    report = images_scan(root=image_tree, store=Refusing(), analyser=analyser)
    assert [(os.path.basename(s["path"]), s["reason"]) for s in report.skipped] == [
        ("Turbine1.jpg", "analysis failed: ValueError: record refused")
    ]
    assert (report.new, report.unchanged) == (1, 7)


@pytest.mark.django_db(transaction=True)
def test_watch_survives_a_bomb_and_a_vanished_folder(image_tree, analyser, tmp_path):
    store = PostgresImageStore()
    stop = ShutdownFlag()
    reports = []

    def on_report(report):
        reports.append(report)
        if len(reports) == 1:
            (image_tree / "TurbineImages" / "bomb.png").write_bytes(png_header(20000, 20000))
        elif len(reports) == 2:
            image_tree.rename(tmp_path / "moved away")
        elif len(reports) == 3:
            (tmp_path / "moved away").rename(image_tree)
            (image_tree / "OilAndGas" / "late.jpg").write_bytes(jpeg_bytes(synthetic(9)))
        elif len(reports) >= 5:
            stop.set()

    def watch():
        try:
            images_watch(root=image_tree, store=store, analyser=analyser, stop=stop, interval_s=0.05, on_report=on_report)
        finally:
            connection.close()

    thread = threading.Thread(target=watch)
    thread.start()
    thread.join(60)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert any("bomb.png" in s["path"] for s in reports[1].skipped)
    assert "scan failed" in reports[2].skipped[0]["reason"]
    assert any(r.new == 1 for r in reports[3:])
    assert store.get_by_path(str(image_tree / "OilAndGas" / "late.jpg")) is not None
