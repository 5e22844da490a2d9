"""Parse and check user-activity messages before they reach the database.

Two shapes arrive on the queue: per-event messages
(``user_id, session_id, event, connection_status, region, ip_address, timestamp``)
and site snapshots shaped like the seed's ``users_sample.json``. Real
variations are accepted: events and statuses in any case, any ISO 8601 time
(naive means UTC), an address that is not an IP stored as none, integral
floats as counts. What would not fit the columns raises ``InvalidMessage``
with a reason the consumer puts on the dead letter, and nothing else is ever
raised, whatever the bytes: a bad message must never stop the consumer.
"""

import functools
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sessions_app.amqp import EVENT_TYPE, SNAPSHOT_TYPE
from tier0site.messages import InvalidMessage, parse_json_object, short

__all__ = ["InvalidMessage", "SessionEvent", "Snapshot", "message_parse"]

# event -> the connection status it leaves the session in
EVENT_STATUS = {"login": "active", "active": "active", "idle": "idle", "logout": "disconnected"}
# Events stamped further ahead than this are refused: a wrong clock would
# otherwise freeze the session against every real event that follows.
MAX_FUTURE = timedelta(hours=1)


@dataclass(slots=True)
class SessionEvent:
    user_id: str
    username: str
    session_id: str
    event: str
    connection_status: str
    region: str
    ip_address: str | None
    site_id: str
    timestamp: datetime
    login_time: datetime | None
    logout_time: datetime | None
    last_activity: datetime | None


@dataclass(slots=True)
class Snapshot:
    message_id: str
    site_id: str
    timestamp_utc: datetime
    active_users: int
    active_connections: int
    server_cpu_pct: float | None
    server_memory_gb: float | None
    average_latency_ms: float | None
    payload: dict


def message_parse(body: bytes, *, message_type: str | None, now: datetime) -> SessionEvent | Snapshot:
    """Decode ``body`` into an event or a snapshot, or raise ``InvalidMessage`` (and nothing else)."""
    try:
        return _parse(bytes(body), message_type=message_type, now=now)
    except InvalidMessage:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the bytes, a message is refused, never a crash
        raise InvalidMessage(f"invalid: {type(exc).__name__}: {str(exc)[:120]}") from None


def _parse(body: bytes, *, message_type: str | None, now: datetime) -> SessionEvent | Snapshot:
    data, _bom = parse_json_object(body, prefix="malformed JSON: ", object_prefix="message: ")
    if message_type == SNAPSHOT_TYPE or (message_type != EVENT_TYPE and "message_id" in data and "metrics" in data):
        return _snapshot(data, now=now)
    return _event(data, now=now)


def _text(data: dict, name: str, max_length: int, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise InvalidMessage(f"missing {name}")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # numeric ids, as some producers send them
    if not isinstance(value, str):
        raise InvalidMessage(f"{name} must be a string")
    if len(value) > max_length:
        raise InvalidMessage(f"{name} longer than {max_length} characters")
    return value


def _time(data: dict, name: str, *, now: datetime, required: bool = True) -> datetime | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidMessage(f"missing {name}")
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{name} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"{name} is not an ISO 8601 time: {short(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        ahead = parsed - now
    except OverflowError:
        raise InvalidMessage(f"{name} is out of range: {short(value)}") from None
    if ahead > MAX_FUTURE:
        raise InvalidMessage(f"{name} is more than an hour in the future: {short(value)}")
    return parsed


def _lower(value):
    return value.strip().lower() if isinstance(value, str) else value


def _event(data: dict, *, now: datetime) -> SessionEvent:
    event = _lower(data.get("event"))
    if not isinstance(event, str) or event not in EVENT_STATUS:
        raise InvalidMessage(f"event must be one of {', '.join(EVENT_STATUS)}, not {short(event, 20)}")
    status = EVENT_STATUS[event]
    given_status = _lower(data.get("connection_status"))
    if given_status not in (None, "", status):
        raise InvalidMessage(f"connection_status {short(given_status, 20)} contradicts event {event!r}")
    ip = _ip(data.get("ip_address"))
    timestamp = _time(data, "timestamp", now=now)
    login_time = _time(data, "login_time", now=now, required=False)
    last_activity = _time(data, "last_activity", now=now, required=False)
    if event == "login":
        login_time = login_time or timestamp
    if event in ("login", "active"):
        last_activity = timestamp
    return SessionEvent(
        user_id=_text(data, "user_id", 50),
        username=_text(data, "username", 100, required=False),
        session_id=_text(data, "session_id", 64),
        event=event,
        connection_status=status,
        region=_text(data, "region", 32),
        ip_address=ip,
        site_id=_text(data, "site_id", 64, required=False),
        timestamp=timestamp,
        login_time=login_time,
        logout_time=timestamp if event == "logout" else None,
        last_activity=last_activity,
    )


@functools.lru_cache(maxsize=65536)
def _ip_normalized(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _ipv4_plain(value: str) -> bool:
    """Dotted-quad IPv4 already in canonical form (the common case, checked cheaply)."""
    parts = value.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and p.isascii() and len(p) <= 3 and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
    )


def _ip(value) -> str | None:
    """The address, normalised; None when absent or not an IP (optional: the session is kept)."""
    if not isinstance(value, str) or not value or len(value) > 45:
        return None
    if _ipv4_plain(value):
        return value
    # IPv6 and unusual spellings: the standard parser (cached, a session repeats its address).
    return _ip_normalized(value.strip())


def _count(metrics: dict, name: str) -> int:
    value = metrics.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InvalidMessage(f"metrics.{name} must be a non-negative integer")
    return value


def _number(metrics: dict, name: str) -> float | None:
    value = metrics.get(name)
    if value is None:
        return None
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an int too large for a float
        number = math.nan
    if not math.isfinite(number):
        raise InvalidMessage(f"metrics.{name} must be a number")
    return number


def _snapshot(data: dict, *, now: datetime) -> Snapshot:
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        raise InvalidMessage("metrics must be an object")
    users = data.get("active_users_list", [])
    if not isinstance(users, list):
        raise InvalidMessage("active_users_list must be a list")
    return Snapshot(
        message_id=_text(data, "message_id", 64),
        site_id=_text(data, "site_id", 64),
        timestamp_utc=_time(data, "timestamp_utc", now=now),
        active_users=_count(metrics, "active_users"),
        active_connections=_count(metrics, "active_connections"),
        server_cpu_pct=_number(metrics, "server_cpu_pct"),
        server_memory_gb=_number(metrics, "server_memory_gb"),
        average_latency_ms=_number(metrics, "average_latency_ms"),
        payload=data,
    )
