"""Validate one MQTT telemetry message: accept what devices send, refuse what cannot be stored.

Required: ``device_id``, ``device_type`` and ``site_id`` (strings of 1-64
characters that agree with the topic ``{prefix}/{site_id}/{device_type}/{device_id}``),
``timestamp_utc`` (any ISO 8601 form; naive means UTC; within the retention and
at most an hour ahead) and ``metrics`` (a flat object of at most 256 finite
numbers with names of 1-64 characters). Everything else is tolerated: any metric
names and device types (schema drift is tracked, not refused), any state
(normalised to upper case, ``UNKNOWN`` when it is not one of ``STATES``), a
location or tags of the wrong shape (dropped, the reading kept).

Whatever the bytes, ``validate_message`` raises nothing but ``InvalidMessage``,
whose text is the dead-letter reason: one message must never stop ingest.
"""

import json
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

from telemetry.device_types import STATES, UNKNOWN_STATE
from tier0site.messages import InvalidMessage, parse_json_object, short

__all__ = ["InvalidMessage", "ValidReading", "parse_topic", "validate_message"]

MAX_ID_LENGTH = 64
MAX_METRICS = 256
MAX_METRIC_NAME = 64
MAX_FUTURE = timedelta(hours=1)
MAX_FIRMWARE = 64
_FLOAT_MAX = sys.float_info.max
_NUMBERS = (int, float)


@dataclass(frozen=True, slots=True)
class ValidReading:
    device_id: str
    device_type: str
    site_id: str
    timestamp: datetime
    state: str
    # The parsed payload as stored: ``status`` is always an object holding the normalised state.
    payload: dict
    # The JSON document to store: the bytes received, or the payload re-encoded when it was normalised.
    document: bytes
    # The state as sent when it was not a known one (for the drift counts), else None.
    reported_state: str | None = None


def _require_id(payload: dict, key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"schema: '{key}' must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidMessage(f"schema: '{key}' is longer than {MAX_ID_LENGTH} characters ({len(value)})")
    return value


def parse_timestamp(value, *, now: datetime, retention_days: int) -> datetime:
    if not isinstance(value, str):
        raise InvalidMessage("schema: 'timestamp_utc' must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"schema: 'timestamp_utc' is not ISO 8601: {short(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        age = now - parsed
    except OverflowError:
        raise InvalidMessage(f"schema: 'timestamp_utc' is out of range: {short(value)}") from None
    if age > timedelta(days=retention_days):
        raise InvalidMessage(f"schema: 'timestamp_utc' is older than the {retention_days}-day retention: {short(value)}")
    if -age > MAX_FUTURE:
        raise InvalidMessage(f"schema: 'timestamp_utc' is more than an hour in the future: {short(value)}")
    return parsed


def _check_metrics(metrics) -> None:
    if type(metrics) is not dict:
        raise InvalidMessage("schema: 'metrics' must be an object of numbers")
    if len(metrics) > MAX_METRICS:
        raise InvalidMessage(f"schema: more than {MAX_METRICS} metrics ({len(metrics)})")
    # Exact types (JSON yields no subclasses; bool is not int here): the hot loop of ingest.
    for name, value in metrics.items():
        kind = type(value)
        if not ((kind is float and math.isfinite(value)) or (kind is int and -_FLOAT_MAX <= value <= _FLOAT_MAX)):
            raise InvalidMessage(f"schema: metric {short(name, 70)} must be a finite number, not {kind.__name__}")
        if not 0 < len(name) <= MAX_METRIC_NAME:
            raise InvalidMessage(f"schema: metric name {short(name, 70)} must be 1-{MAX_METRIC_NAME} characters")


def normalise_state(status) -> tuple[str, str | None]:
    """The stored state and, when it is not a known one, the state as sent."""
    reported = status.get("state") if isinstance(status, dict) else status
    if isinstance(reported, str):
        state = reported.strip().upper()
        if state in STATES:
            return state, None
    if reported is None:
        return UNKNOWN_STATE, None
    return UNKNOWN_STATE, str(reported)[:MAX_ID_LENGTH]


def _valid_location(location) -> bool:
    if type(location) is not dict:
        return False
    lat, lon = location.get("lat"), location.get("lon")
    return type(lat) in _NUMBERS and type(lon) in _NUMBERS and -90 <= lat <= 90 and -180 <= lon <= 180


def _normalise(payload: dict, state: str, reported: str | None) -> bool:
    """Bring the optional parts into the stored shape; True if anything changed."""
    changed = False
    status = payload.get("status")
    if not isinstance(status, dict) or status.get("state") != state:
        status = dict(status) if isinstance(status, dict) else {}
        status["state"] = state
        if reported is not None:
            status["reported_state"] = reported
        payload["status"] = status
        changed = True
    if payload.get("location") is not None and not _valid_location(payload["location"]):
        payload["location"] = None
        changed = True
    if payload.get("tags") is not None and not isinstance(payload["tags"], dict):
        payload["tags"] = None
        changed = True
    firmware = payload.get("firmware")
    if firmware is not None and (not isinstance(firmware, str) or len(firmware) > MAX_FIRMWARE):
        payload["firmware"] = str(firmware)[:MAX_FIRMWARE] if isinstance(firmware, str | int | float) else ""
        changed = True
    return changed


def _encode(payload: dict) -> bytes:
    try:
        return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # 1e999 somewhere outside the metrics: fine as text, not as a float
        raise InvalidMessage("json: a number is out of range") from None


def parse_topic(topic: str, prefix: str) -> tuple[str, str, str]:
    parts = topic.split("/")
    prefix_parts = prefix.split("/")
    if len(parts) != len(prefix_parts) + 3 or parts[: len(prefix_parts)] != prefix_parts:
        raise InvalidMessage(f"topic: expected {prefix}/{{site_id}}/{{device_type}}/{{device_id}}")
    site_id, device_type, device_id = parts[len(prefix_parts) :]
    return site_id, device_type, device_id


def _check_topic(topic: tuple[str, str, str], site_id: str, device_type: str, device_id: str) -> None:
    names = ("site_id", "device_type", "device_id")
    mismatched = [name for name, a, b in zip(names, topic, (site_id, device_type, device_id), strict=True) if a != b]
    if mismatched:
        raise InvalidMessage(f"mismatch: topic and payload disagree on {', '.join(mismatched)}")


def validate_message(topic: str, raw: bytes, *, prefix: str = "og/field", now: datetime | None = None) -> ValidReading:
    """Return the reading a message carries, or raise ``InvalidMessage`` (and nothing else)."""
    try:
        return _validate(topic, raw, prefix=prefix, now=now or datetime.now(UTC))
    except InvalidMessage:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the bytes, a message is refused, never a crash
        raise InvalidMessage(f"invalid: {type(exc).__name__}: {str(exc)[:120]}") from None


def _validate(topic: str, raw: bytes, *, prefix: str, now: datetime) -> ValidReading:
    topic_parts = parse_topic(topic, prefix)
    # Floats are checked where it matters (metrics; a re-encoded payload), not as each is parsed.
    payload, bom = parse_json_object(bytes(raw), prefix="json: ", object_prefix="schema: ", finite_floats=False)
    device_id = _require_id(payload, "device_id")
    device_type = _require_id(payload, "device_type")
    site_id = _require_id(payload, "site_id")
    _check_topic(topic_parts, site_id, device_type, device_id)
    timestamp = parse_timestamp(payload.get("timestamp_utc"), now=now, retention_days=settings.TELEMETRY_RETENTION_DAYS)
    _check_metrics(payload.get("metrics"))
    state, reported = normalise_state(payload.get("status"))
    changed = _normalise(payload, state, reported)
    # Normalised payloads (rare) are re-encoded; the bytes received are stored as they came otherwise.
    document = _encode(payload) if changed else bytes(raw[3:] if bom else raw)
    return ValidReading(device_id, device_type, site_id, timestamp, state, payload, document, reported)
