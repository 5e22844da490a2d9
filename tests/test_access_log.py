"""The web server's output is JSON lines only, access lines included (the Procfile's run_web)."""

import contextlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.processes import free_port, subprocess_env, wait_for_http
from tests.support.waiting import wait_until

REPO = Path(settings.BASE_DIR)


@pytest.mark.django_db
def test_the_web_server_writes_access_lines_as_json(tmp_path):
    port = free_port()
    env = subprocess_env(HA_DATA_DIR=str(tmp_path / "no-ha"))
    assert "manage.py run_web" in (REPO / "Procfile").read_text()
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(  # noqa: S603 - our own server
            [sys.executable, "manage.py", "run_web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/version", web, log=log.read_text)
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page", timeout=2).close()
        wait_until(lambda: '"/no-such-page"' in log.read_text(), 10, 0.05, "no access line for /no-such-page")
    finally:
        web.terminate()
        web.wait(timeout=15)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    for line in lines:
        assert line.startswith("{"), f"not a JSON line: {line!r}"
    records = [json.loads(line) for line in lines]  # every line is JSON: no plain-text access lines
    access = [r for r in records if r["logger"] == "tier0.access"]
    assert any({"path": "/api/version", "status": 200, "method": "GET"}.items() <= r.items() for r in access)
    assert any(r["path"] == "/no-such-page" and r["status"] == 404 for r in access)
    assert all({"ms", "bytes", "client"} <= r.keys() for r in access)
