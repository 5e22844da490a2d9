"""The device API benchmark: 32 concurrent clients against the real ASGI server.

A throwaway database is filled with a simulated fleet's latest state, uvicorn
serves the project's ASGI application, and clients request device lists with
the dashboard's filter mix. Latency is measured per request at the client;
cache hits are read from each response's ``X-Cache`` header.
"""

import asyncio
import json
import logging
import os
import subprocess
import sys
import time

import httpx

from telemetry.bench import REPO, BenchDatabase
from telemetry.broker import free_port, wait_for_port
from telemetry.device_types import DEVICE_TYPES, SITES
from telemetry.simulator import Fleet

CREATE_TOKEN = (
    "from django.contrib.auth import get_user_model; from rest_framework.authtoken.models import Token; "
    "u = get_user_model().objects.create_user('bench'); print(Token.objects.create(user=u).key)"
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


async def _client(base: str, token: str, queries: list[dict], offset: int, deadline: float, results: list) -> None:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=10) as client:
        i = offset
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await client.get("/api/devices", params={**queries[i % len(queries)], "page_size": 50})
            results.append((time.perf_counter() - started, response.status_code, response.headers.get("X-Cache")))
            i += 7


async def _load(base: str, token: str, clients: int, seconds: float) -> list:
    results: list = []
    queries = _queries()
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_client(base, token, queries, n, deadline, results) for n in range(clients)))
    return results


def api_benchmark(*, clients: int = 32, seconds: float = 15.0, devices: int = 20_000) -> dict:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request would be the load
    database = BenchDatabase()
    database.create()
    server = None
    try:
        _fill_devices(database, devices)
        env = database.env(DJANGO_SETTINGS_MODULE="tier0site.settings.local", LOG_LEVEL="WARNING", DB_POOL_MAX_SIZE="16")
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
             "--no-access-log", "--log-level", "warning"],
            cwd=REPO, env=env,
        )  # fmt: skip
        wait_for_port("127.0.0.1", port, 30)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_load(base, token, clients, 2.0))  # warm-up: connections, imports
        started = time.monotonic()
        results = asyncio.run(_load(base, token, clients, seconds))
        elapsed = time.monotonic() - started
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        database.drop()
    latencies = sorted(r[0] * 1000 for r in results)
    ok = [r for r in results if r[1] == 200]
    return {
        "requests": len(results),
        "errors": len(results) - len(ok),
        "requests_per_s": round(len(results) / elapsed),
        "p50_ms": round(latencies[len(latencies) // 2], 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1),
        "cache_hit_rate": round(sum(1 for r in ok if r[2] == "HIT") / len(ok), 3) if ok else 0.0,
        "clients": clients,
        "devices": devices,
        "measured": "GET /api/devices (page_size 50, 59 filter mixes) through uvicorn, token auth, Redis cache-aside",
    }
