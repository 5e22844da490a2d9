"""The device API benchmark: the web server `make run` starts, full authentication on every request.

A throwaway database is filled with a simulated fleet's latest state; the server is
started exactly as the Procfile does (``tier0site.webserver.web_command``: uvicorn,
one worker per core) and every request carries an API token that DRF checks
(knox: SHA-512 of the token, a database lookup of token and user), so nothing is
trusted from an earlier request. Two loads, each on the dashboard's filter mix and,
in the same run, on a trivial authenticated DRF view (``/api/auth/whoami``: the
framework's own ceiling on this machine):

- closed loop: wrk (C) with 32 connections, as fast as the server answers, with the server's
  CPU seconds per answered request (``server_cpu_ms_per_request``: its per-core cost);
- open loop: a fixed offered rate (500/s by default) from ``devtools.loadgen``,
  latency counted from each request's due time (wrk2 is not packaged here).

The open loop runs at each of ``rates`` (100/s, below saturation, and the 500/s
target); the cache hit rate comes from the answers' X-Cache headers.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlencode

import psutil
from django.core.management.base import CommandError

from devtools.broker import free_port, wait_for_port
from devtools.device_simulator import Fleet
from devtools.ingest_bench import REPO, BenchDatabase
from devtools.loadgen import open_loop
from telemetry.device_types import DEVICE_TYPES, SITES
from tier0site.webserver import web_command, web_workers

WHOAMI = "/api/auth/whoami"
BENCH_USER = "bench"

CREATE_TOKEN = (
    "from django.contrib.auth import get_user_model; from accounts.services import token_issue; "  # noqa: S105 - Python source run in a child process, no secret
    "u = get_user_model().objects.create_user('bench'); print(token_issue(user=u)[1])"
)


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


def _device_paths() -> list[str]:
    return [f"/api/devices?{urlencode({**q, 'page_size': 50})}" for q in _queries()]


def _wrk(base: str, token: str, clients: int, seconds: float, paths: list[str], script_path: str) -> dict:
    with open(script_path, "w") as script:
        script.write(WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), token))
    command = ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", script_path, base + paths[0]]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout  # noqa: S603 - our own load generator command
    return _parse_wrk(output)


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


def _cpu_s(server: subprocess.Popen) -> float:
    """CPU seconds (user + system) of the web server and its worker processes so far."""
    root = psutil.Process(server.pid)
    processes = [root, *root.children(recursive=True)]
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def _wrk_with_cpu(server: subprocess.Popen, *args) -> dict:
    """A wrk run, plus the server's CPU per answered request: the per-core cost, whatever else loads the machine."""
    before = _cpu_s(server)
    figures = _wrk(*args)
    cpu = _cpu_s(server) - before
    figures["server_cpu_s"] = round(cpu, 2)
    figures["server_cpu_ms_per_request"] = round(cpu * 1000 / figures["requests"], 2) if figures.get("requests") else None
    return figures


def _token(env: dict) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "shell", "-c", CREATE_TOKEN], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def api_benchmark(
    *,
    clients: int = 32,
    seconds: int = 10,
    devices: int = 20_000,
    rates: tuple[float, ...] = (100, 500),
    workers: int | None = None,
) -> dict:
    if not shutil.which("wrk"):
        raise CommandError("bench_api needs wrk: apt-get install wrk (make bootstrap installs it)")
    workers = workers or web_workers()
    database = BenchDatabase()
    database.create()
    server = None
    try:
        _fill_devices(database, devices)
        env = database.env(
            DJANGO_SETTINGS_MODULE="tier0site.settings.local", LOG_LEVEL="WARNING", DB_POOL_MAX_SIZE="16",
            API_THROTTLE_EXEMPT_USERS=BENCH_USER,
        )  # fmt: skip
        token = _token(env)
        port = free_port()
        server = subprocess.Popen(web_command(host="127.0.0.1", port=port, workers=workers), cwd=REPO, env=env)  # noqa: S603 - the Procfile's web command on a loopback port
        wait_for_port("127.0.0.1", port, 30)
        base = f"http://127.0.0.1:{port}"
        script = os.path.join(tempfile.mkdtemp(prefix="tier0-wrk-"), "mix.lua")
        paths = _device_paths()
        _wrk(base, token, clients, 3, paths, script)  # warm-up: connections, pools, the cache
        _wrk(base, token, clients, 2, [WHOAMI], script)
        auth = {"Authorization": f"Token {token}"}
        closed = _wrk_with_cpu(server, base, token, clients, seconds, paths, script)
        closed_ceiling = _wrk_with_cpu(server, base, token, clients, seconds, [WHOAMI], script)
        opened, ceilings = {}, {}
        for r in rates:
            load = {"host": "127.0.0.1", "port": port, "headers": auth, "rate": r, "seconds": seconds}
            opened[r] = open_loop(paths=paths, count_header="x-cache", **load)
            ceilings[r] = open_loop(paths=[WHOAMI], **load)
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        database.drop()
    top = opened[max(rates)]
    caches = {}
    for run in opened.values():
        for value, n in run.pop("x-cache_counts").items():
            caches[value] = caches.get(value, 0) + n
    return {
        "closed_loop": {"connections": clients, **closed},
        "closed_loop_ceiling": {"connections": clients, **closed_ceiling},
        "ceiling_ratio": round(closed["requests_per_s"] / closed_ceiling["requests_per_s"], 3)
        if closed_ceiling.get("requests_per_s")
        else None,
        "open_loop": {f"{r:g}_per_s": run for r, run in opened.items()},
        "open_loop_ceiling": {f"{r:g}_per_s": run for r, run in ceilings.items()},
        "target": f"p99 < 50 ms at {max(rates):g}/s",
        "target_met": bool(top["p99_ms"] is not None and top["p99_ms"] < 50 and not top["non_2xx"] and not top["errors"]),
        # From each answer's X-Cache header in the open-loop runs (Prometheus counters are per worker process).
        "cache_hit_rate": round(caches.get("HIT", 0) / sum(caches.values()), 3) if caches else 0.0,
        "devices": devices,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "measured": (
            f"GET /api/devices (page_size 50, {len(paths)} filter mixes) and {WHOAMI} (trivial authenticated DRF view); "
            f"uvicorn, {workers} workers, started as make run does (manage.py run_web); knox token checked by DRF on every request"
        ),
    }
