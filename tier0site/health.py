"""Health checks of the parts the platform cannot serve without."""

import socket
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from failover.selectors import current_region


def _check_postgres() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    cache.get("health:probe")


def _check_mqtt() -> None:
    # A TCP connect proves the broker listens; a full MQTT handshake per probe
    # would leave client sessions behind on the broker.
    with socket.create_connection((settings.MQTT_HOST, settings.MQTT_PORT), timeout=2):
        pass


CHECKS = {"postgres": _check_postgres, "redis": _check_redis, "mqtt": _check_mqtt}


def health_report() -> dict:
    """Run every check; the report names each part's status and latency."""
    parts = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            parts[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure is the answer here
            parts[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        parts[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(part["ok"] for part in parts.values())
    return {"status": "ok" if healthy else "degraded", "failing": [n for n, p in parts.items() if not p["ok"]], "checks": parts}


def deployment_version() -> dict:
    region = current_region()
    return {"version": f"{settings.DEPLOYMENT_VERSION}_{region}", "region": region}
