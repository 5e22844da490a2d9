"""Health checks of the parts the platform cannot serve without."""

import logging
import socket
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)


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
        except Exception:  # noqa: BLE001 - any failure is the answer here
            # The details (hosts, paths, driver text) go to the log, not to the public answer.
            logger.warning("health check failed", extra={"part": name}, exc_info=True)
            parts[name] = {"ok": False, "error": f"{name} is not answering"}
        parts[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(part["ok"] for part in parts.values())
    return {"status": "ok" if healthy else "degraded", "failing": [n for n, p in parts.items() if not p["ok"]], "checks": parts}


def deployment_version() -> dict:
    region = current_region()
    return {"version": f"{settings.DEPLOYMENT_VERSION}_{region}", "region": region}


def current_region() -> str:
    """The region serving now; the failover app may override the setting."""
    try:
        from failover.selectors import active_region
    except ImportError:
        return settings.DEPLOYMENT_REGION
    return active_region() or settings.DEPLOYMENT_REGION
