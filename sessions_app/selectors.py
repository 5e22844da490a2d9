"""Reads for user sessions: lists, the live summary, site snapshots.

``session_summary`` is the one definition of the wireframe's ``SRE_User``
value; the consumer writes it to Redis after each batch and the API reads it
back, falling back to computing it here when Redis has nothing (or is down).
"""

import json
import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from sessions_app.models import ConnectionStatus, SiteSnapshot, UserSession

logger = logging.getLogger(__name__)

LOGGED_ON = (ConnectionStatus.ACTIVE, ConnectionStatus.IDLE)
STATUSES = [choice.value for choice in ConnectionStatus]


def session_list(*, status: str | None = None, region: str | None = None, site_id: str | None = None) -> QuerySet:
    sessions = UserSession.objects.all()
    if status:
        sessions = sessions.filter(connection_status=status)
    if region:
        sessions = sessions.filter(region=region)
    if site_id:
        sessions = sessions.filter(site_id=site_id)
    return sessions.order_by("user_id", "session_id")


def session_regions() -> list[str]:
    return list(UserSession.objects.order_by().values_list("region", flat=True).distinct())


def site_snapshot_latest(*, site_id: str) -> SiteSnapshot | None:
    return SiteSnapshot.objects.filter(site_id=site_id).order_by("-timestamp_utc", "-id").first()


def active_connections_total() -> int:
    """Sum of ``active_connections`` over each site's latest snapshot."""
    latest = SiteSnapshot.objects.order_by("site_id", "-timestamp_utc", "-id").distinct("site_id")
    return sum(latest.values_list("active_connections", flat=True))


def session_summary(*, max_users: int | None = None, now: datetime | None = None) -> dict:
    """Counts by status and region, logged-on users, active connections (from the database)."""
    now = now or timezone.now()
    max_users = settings.SESSIONS_SUMMARY_MAX_USERS if max_users is None else max_users
    by_status = dict.fromkeys(STATUSES, 0)
    by_region: dict[str, dict[str, int]] = {}
    for row in UserSession.objects.order_by().values("region", "connection_status").annotate(n=Count("id")):
        by_status[row["connection_status"]] = by_status.get(row["connection_status"], 0) + row["n"]
        by_region.setdefault(row["region"], dict.fromkeys(STATUSES, 0))[row["connection_status"]] = row["n"]
    logged_on = UserSession.objects.filter(connection_status__in=LOGGED_ON)
    concurrent_users = logged_on.values("user_id").distinct().count()
    active_users = logged_on.filter(connection_status=ConnectionStatus.ACTIVE).values("user_id").distinct().count()
    users = list(
        logged_on.order_by("login_time", "session_id").values(
            "user_id", "username", "session_id", "region", "site_id", "connection_status", "login_time"
        )[:max_users]
    )
    for user in users:
        login_time = user["login_time"]
        user["online_seconds"] = max(0, int((now - login_time).total_seconds())) if login_time else None
        user["login_time"] = login_time.isoformat() if login_time else None
    logged_on_total = by_status[ConnectionStatus.ACTIVE] + by_status[ConnectionStatus.IDLE]
    return {
        "concurrent_users": concurrent_users,
        "active_users": active_users,
        "active_sessions": by_status[ConnectionStatus.ACTIVE],
        "active_connections": active_connections_total(),
        "by_status": by_status,
        "by_region": dict(sorted(by_region.items())),
        "users": users,
        "users_total": logged_on_total,
        "users_truncated": logged_on_total > len(users),
        "generated_at": now.isoformat(),
    }


def session_summary_cached(*, key: str | None = None) -> tuple[dict, str]:
    """The ``SRE_User`` summary from Redis, or from the database if Redis has none; with its source."""
    try:
        raw = get_redis_connection("default").get(key or settings.SESSIONS_SRE_USER_KEY)
    except RedisError as exc:
        logger.warning("SRE_User not readable from Redis; using the database", extra={"error": str(exc)[:200]})
        raw = None
    if raw:
        try:
            return json.loads(raw), "redis"
        except ValueError:
            logger.warning("SRE_User in Redis is not JSON; using the database")
    return session_summary(), "database"
