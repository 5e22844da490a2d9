"""Validate one MQTT telemetry message against its topic and device type.

A message is accepted only when it is a JSON object with the seed template's
fields, its metrics are the numbers its device type reports, and its topic
``og/field/{site_id}/{device_type}/{device_id}`` names the same device. What is
refused is given a reason that goes into the dead-letter store with it.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime

from telemetry.device_types import DEVICE_TYPES, STATES


class InvalidMessage(ValueError):
    """The message cannot be stored; ``str(exc)`` is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class ValidReading:
    device_id: str
    device_type: str
    site_id: str
    timestamp: datetime
    state: str
    payload: dict


def _require_str(payload: dict, key: str, max_length: int = 64) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"schema: '{key}' must be a non-empty string")
    if len(value) > max_length or "/" in value:
        raise InvalidMessage(f"schema: '{key}' is longer than {max_length} characters or contains '/'")
    return value


def _parse_timestamp(value) -> datetime:
    if not isinstance(value, str):
        raise InvalidMessage("schema: 'timestamp_utc' must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidMessage(f"schema: 'timestamp_utc' is not ISO-8601: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise InvalidMessage("schema: 'timestamp_utc' has no time zone (expected a trailing Z)")
    return parsed


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_metrics(metrics, device_type: str) -> None:
    if not isinstance(metrics, dict):
        raise InvalidMessage("schema: 'metrics' must be an object")
    missing = DEVICE_TYPES[device_type].metric_names - metrics.keys()
    if missing:
        raise InvalidMessage(f"schema: {device_type} metrics missing {sorted(missing)}")
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise InvalidMessage(f"schema: metric '{name}' must be a finite number")


def _check_status(status) -> str:
    if not isinstance(status, dict) or status.get("state") not in STATES:
        raise InvalidMessage(f"schema: 'status.state' must be one of {'|'.join(STATES)}")
    if not isinstance(status.get("code", ""), str):
        raise InvalidMessage("schema: 'status.code' must be a string")
    return status["state"]


def _check_optional(payload: dict) -> None:
    location = payload.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise InvalidMessage("schema: 'location' must be an object")
        lat, lon = location.get("lat"), location.get("lon")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            raise InvalidMessage("schema: 'location' needs numeric 'lat' and 'lon'")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidMessage("schema: 'location' is outside the globe")
    if payload.get("tags") is not None and not isinstance(payload["tags"], dict):
        raise InvalidMessage("schema: 'tags' must be an object")
    if not isinstance(payload.get("firmware", ""), str):
        raise InvalidMessage("schema: 'firmware' must be a string")


def parse_topic(topic: str, prefix: str) -> tuple[str, str, str]:
    parts = topic.split("/")
    prefix_parts = prefix.split("/")
    if len(parts) != len(prefix_parts) + 3 or parts[: len(prefix_parts)] != prefix_parts:
        raise InvalidMessage(f"topic: expected {prefix}/{{site_id}}/{{device_type}}/{{device_id}}")
    site_id, device_type, device_id = parts[len(prefix_parts) :]
    return site_id, device_type, device_id


def validate_message(topic: str, raw: bytes, *, prefix: str = "og/field") -> ValidReading:
    """Return the reading a message carries, or raise ``InvalidMessage``."""
    topic_site, topic_type, topic_device = parse_topic(topic, prefix)
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"json: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidMessage("schema: payload must be a JSON object")
    device_type = _require_str(payload, "device_type", 32)
    if device_type not in DEVICE_TYPES:
        raise InvalidMessage(f"schema: unknown device_type {device_type!r}")
    device_id = _require_str(payload, "device_id")
    site_id = _require_str(payload, "site_id")
    mismatched = [
        name
        for name, in_topic, in_payload in (
            ("site_id", topic_site, site_id),
            ("device_type", topic_type, device_type),
            ("device_id", topic_device, device_id),
        )
        if in_topic != in_payload
    ]
    if mismatched:
        raise InvalidMessage(f"mismatch: topic and payload disagree on {', '.join(mismatched)}")
    timestamp = _parse_timestamp(payload.get("timestamp_utc"))
    _check_metrics(payload.get("metrics"), device_type)
    state = _check_status(payload.get("status"))
    _check_optional(payload)
    return ValidReading(device_id, device_type, site_id, timestamp, state, payload)
