"""The device API benchmark: 32 concurrent clients against the real ASGI server.

A throwaway database is filled with a simulated fleet's latest state, uvicorn
serves the project's ASGI application, and wrk (Debian's, a C load generator
that leaves the CPU to the server) requests device lists with the dashboard's
filter mix after a 3 s warm-up. Latency percentiles are wrk's; the cache hit
rate is the server's own Prometheus counters over the measured run.
"""

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlencode

import httpx
from django.core.management.base import CommandError

from telemetry.bench import REPO, BenchDatabase
from telemetry.broker import free_port, wait_for_port
from telemetry.device_types import DEVICE_TYPES, SITES
from telemetry.simulator import Fleet

CREATE_TOKEN = (
    "from django.contrib.auth import get_user_model; from accounts.services import token_issue; "
    "u = get_user_model().objects.create_user('bench'); print(token_issue(user=u)[1])"
)


METRICS_TOKEN = secrets.token_hex(16)  # the benchmark server's scrape token


def _fill_devices(database: BenchDatabase, devices: int) -> None:
    fleet = Fleet(devices=devices, seed=3)
    with (
        database.connect() as conn,
        conn.cursor().copy(
            "COPY telemetry_device_state (device_id, device_type, site_id, state, timestamp_utc, firmware, metrics, status, location, tags, updated_at) FROM STDIN"
        ) as copy,
    ):
        for device in fleet.devices:
            r = fleet.reading(device)
            copy.write_row(
                [r["device_id"], r["device_type"], r["site_id"], r["status"]["state"], r["timestamp_utc"], r["firmware"],
                 json.dumps(r["metrics"]), json.dumps(r["status"]), json.dumps(r["location"]), json.dumps(r["tags"]), r["timestamp_utc"]]
            )  # fmt: skip


def _queries() -> list[dict]:
    """The dashboard's mix: everything, per site, per type, per site and type, alerts."""
    queries = [{}, {"state": "ALERT"}, {"state": "WARN"}, {"page": 2}]
    queries += [{"site_id": s} for s in SITES]
    queries += [{"device_type": t} for t in DEVICE_TYPES]
    queries += [{"site_id": s, "device_type": t} for s in SITES for t in DEVICE_TYPES]
    return queries


WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Authorization"] = "Token %s"})
end
"""


def _cache_counts(base: str) -> dict:
    """The server's own cache counters, read from its Prometheus endpoint."""
    text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10).text
    counts = {"hit": 0.0, "miss": 0.0}
    for line in text.splitlines():
        if line.startswith("tier0_device_cache_requests_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


def _wrk(base: str, token: str, clients: int, seconds: float, script_path: str) -> str:
    paths = ", ".join(f'"/api/devices?{urlencode({**q, "page_size": 50})}"' for q in _queries())
    with open(script_path, "w") as script:
        script.write(WRK_SCRIPT % (paths, token))
    command = ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", script_path, f"{base}/api/devices"]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout


def _parse_wrk(output: str) -> dict:
    figures = {"non_2xx": 0}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            figures[f"p{parts[0][:-1]}_ms"] = _ms(parts[1])
        elif line.startswith("Requests/sec:"):
            figures["requests_per_s"] = round(float(parts[1]))
        elif "requests in" in line:
            figures["requests"] = int(parts[0])
        elif line.strip().startswith("Non-2xx"):
            figures["non_2xx"] = int(parts[-1])
    return figures


def _ms(value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return round(float(value[: -len(unit)]) * factor, 2)
    raise ValueError(value)


def api_benchmark(*, clients: int = 32, seconds: int = 15, devices: int = 20_000, workers: int = 2) -> dict:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not shutil.which("wrk"):
        raise CommandError("bench_api needs wrk: apt-get install wrk (make bootstrap installs it)")
    database = BenchDatabase()
    database.create()
    server = None
    try:
        _fill_devices(database, devices)
        env = database.env(DJANGO_SETTINGS_MODULE="tier0site.settings.local", LOG_LEVEL="WARNING", DB_POOL_MAX_SIZE="16", METRICS_TOKEN=METRICS_TOKEN)
        token = (
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", CREATE_TOKEN],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = free_port()
        server = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "uvicorn"), "tier0site.asgi:application", "--port", str(port),
             "--no-access-log", "--log-level", "warning", "--workers", str(workers)],
            cwd=REPO, env=env,
        )  # fmt: skip
        wait_for_port("127.0.0.1", port, 30)
        base = f"http://127.0.0.1:{port}"
        script = os.path.join(tempfile.mkdtemp(prefix="tier0-wrk-"), "mix.lua")
        _wrk(base, token, clients, 3, script)  # warm-up: connections, first requests through DRF
        before = _cache_counts(base)
        figures = _parse_wrk(_wrk(base, token, clients, seconds, script))
        after = _cache_counts(base)
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        database.drop()
    hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
    return {
        **figures,
        "cache_hit_rate": round(hits / (hits + misses), 3) if hits + misses else 0.0,
        "clients": clients,
        "devices": devices,
        "measured": f"wrk, GET /api/devices (page_size 50, 59 filter mixes) through uvicorn ({workers} workers), token auth, Redis cache-aside",
    }
