"""Health of the parts the platform needs: stores, brokers and the workers that move the data.

``status`` is ``ok``, ``degraded`` (HTTP 200: the API serves, but a broker or a
worker is failing or falling behind, named in ``failing``) or ``down`` (HTTP
503: PostgreSQL or Redis, without which nothing is served). Checks run in
parallel with short timeouts, so a hung part costs at most ``HEALTH_TIMEOUT_S``.
"""

from __future__ import annotations

import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pika
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections

from failover.selectors import current_region
from tier0site import workers

logger = logging.getLogger(__name__)

CRITICAL = ("postgres", "redis")  # without them nothing is served: "down"


def _check_postgres() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connections.close_all()  # a worker thread's own connection
    return {}


def _check_redis() -> dict:
    cache.get("health:probe")
    return {}


def _check_mqtt() -> dict:
    # A TCP connect proves the broker listens; a full MQTT handshake per probe
    # would leave client sessions behind on the broker.
    with socket.create_connection((settings.MQTT_HOST, settings.MQTT_PORT), timeout=settings.HEALTH_TIMEOUT_S):
        pass
    return {}


def _check_rabbitmq() -> dict:
    """The broker answers, and how deep the sessions queue is and who consumes it."""
    params = pika.URLParameters(settings.RABBITMQ_URL)
    params.socket_timeout = params.stack_timeout = params.blocked_connection_timeout = settings.HEALTH_TIMEOUT_S
    params.connection_attempts = 1
    conn = pika.BlockingConnection(params)
    try:
        try:
            declared = conn.channel().queue_declare(queue=settings.SESSIONS_QUEUE, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return {"queue": settings.SESSIONS_QUEUE, "messages": 0, "consumers": 0, "declared": False}
        return {
            "queue": settings.SESSIONS_QUEUE,
            "messages": declared.method.message_count,
            "consumers": declared.method.consumer_count,
        }
    finally:
        conn.close()


CHECKS = {"postgres": _check_postgres, "redis": _check_redis, "mqtt": _check_mqtt, "rabbitmq": _check_rabbitmq}


def worker_findings(beats: list[dict], *, rabbitmq: dict | None, now: float | None = None) -> dict[str, dict]:
    """One entry per expected worker: running or not, its backlog, and whether it stopped or fell behind."""
    now = time.time() if now is None else now
    report = {}
    for name in settings.HEALTH_WORKERS:
        mine = [b for b in beats if b["worker"] == name]
        entry = {"ok": True, "processes": len(mine), "backlog": sum(b.get("backlog", 0) for b in mine)}
        if mine:
            entry["last_beat_age_s"] = round(now - max(b["last_beat"] for b in mine), 1)
            entry["messages_stored"] = sum(b.get("messages_stored", 0) for b in mine)
            stored = [b["last_stored_at"] for b in mine if b.get("last_stored_at")]
            entry["last_stored_age_s"] = round(now - max(stored), 1) if stored else None
        problem = _worker_problem(name, mine, entry, rabbitmq)
        if problem:
            entry.update(ok=False, error=problem)
        report[name] = entry
    return report


def _worker_problem(name: str, mine: list[dict], entry: dict, rabbitmq: dict | None) -> str:
    if not mine:
        return "not running (no heartbeat)"
    if entry["backlog"] > settings.HEALTH_MAX_BACKLOG:
        return f"falling behind: {entry['backlog']} received, not stored"
    age = entry.get("last_stored_age_s")
    if entry["backlog"] and age is not None and age > settings.HEALTH_MAX_STORE_AGE_S:
        return f"stalled: nothing stored for {age:.0f} s with {entry['backlog']} waiting"
    if name == "rabbitmq_consumer" and rabbitmq and rabbitmq.get("declared", True):
        if rabbitmq["consumers"] == 0:
            return f"not consuming: no consumer on {rabbitmq['queue']}"
        if rabbitmq["messages"] > settings.HEALTH_MAX_QUEUE_DEPTH:
            return f"falling behind: {rabbitmq['messages']} messages waiting in {rabbitmq['queue']}"
    return ""


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        part = {"ok": True, **check()}
    except Exception:  # any failure is the answer here
        # The details (hosts, paths, driver text) go to the log, not to the public answer.
        logger.warning("health check failed", extra={"part": getattr(check, "__name__", "check")}, exc_info=True)
        part = {"ok": False, "error": "not answering"}
    part["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return part


def health_report() -> dict:
    """Run every check (in parallel); the report names each part's status and latency."""
    with ThreadPoolExecutor(max_workers=len(CHECKS) + 1, thread_name_prefix="health") as pool:
        futures = {name: pool.submit(_timed, check) for name, check in CHECKS.items()}
        beats = pool.submit(_timed, lambda: {"beats": workers.worker_heartbeats()})
        parts = {name: future.result() for name, future in futures.items()}
        beat_part = beats.result()
    rabbitmq = parts["rabbitmq"] if parts["rabbitmq"]["ok"] else None
    if beat_part["ok"]:
        parts.update(worker_findings(beat_part["beats"], rabbitmq=rabbitmq))
    failing = [name for name, part in parts.items() if not part["ok"]]
    status = "down" if set(failing) & set(CRITICAL) else "degraded" if failing else "ok"
    return {"status": status, "failing": failing, "checks": parts}


def deployment_version() -> dict:
    region = current_region()
    return {"version": f"{settings.DEPLOYMENT_VERSION}_{region}", "region": region}
