"""Hostile user-activity messages, one of each kind, for the RabbitMQ fuzz suite.

kind -> (body, what the dead-letter reason must contain; "" for any reason).
"""

import json
from datetime import UTC, datetime

from tests.sessions.helpers import T0, event, iso

MAX_PAYLOAD = 64 * 1024


def _snapshot(**metrics) -> bytes:
    body = {"message_id": "MSG-FUZZ", "site_id": "SITE-FUZZ", "timestamp_utc": iso(T0), "metrics": metrics}
    return json.dumps(body).encode()


def hostile_bodies() -> dict[str, tuple[bytes, str]]:
    good = event("SESS-FUZZ", "login", T0)
    dumped = json.dumps(good).encode()
    far_future = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    return {
        "deep_nesting_lists": (b"[" * 30_000 + b"]" * 30_000, "nested deeper"),
        "deep_nesting_objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested deeper"),
        "huge_integer": (dumped.replace(b'"SESS-FUZZ"', b"9" * 6_000), "digits"),
        "empty": (b"", "malformed JSON"),
        "null": (b"null", "must be a JSON object"),
        "json_string": (b'"login"', "must be a JSON object"),
        "json_list": (b'[{"event": "login"}]', "must be a JSON object"),
        "truncated_json": (dumped[: len(dumped) // 2], "malformed JSON"),
        "nan": (dumped.replace(b'"US-WEST"', b"NaN"), "NaN"),
        "infinity": (dumped.replace(b'"US-WEST"', b"Infinity"), "Infinity"),
        "overflowing_float": (dumped.replace(b'"US-WEST"', b"1e999"), "out of range"),
        "boolean_event": (json.dumps({**good, "event": True}).encode(), "event must be one of"),
        "object_event": (json.dumps({**good, "event": {"name": "login"}}).encode(), "event must be one of"),
        "unknown_event": (json.dumps({**good, "event": "teleport"}).encode(), "event must be one of"),
        "contradictory_status": (json.dumps({**good, "connection_status": "idle"}).encode(), "contradicts"),
        "10000_char_session_id": (json.dumps({**good, "session_id": "S" * 10_000}).encode(), "longer than 64"),
        "region_as_list": (json.dumps({**good, "region": ["US"]}).encode(), "region must be a string"),
        "missing_session_id": (json.dumps({k: v for k, v in good.items() if k != "session_id"}).encode(), "missing session_id"),
        "invalid_utf8": (dumped.replace(b"alex_j", b"\xff\xfe"), "not UTF-8"),
        "raw_nul_byte": (dumped.replace(b"alex_j", b"al\x00ex"), "malformed JSON"),
        "escaped_nul": (dumped.replace(b"alex_j", b"al\\u0000ex"), "NUL"),
        "lone_surrogate": (dumped.replace(b"alex_j", b"\\ud800"), "surrogate"),
        "utf16_encoded": (json.dumps(good).encode("utf-16"), "not UTF-8"),
        "duplicate_keys": (dumped.replace(b'"event":', b'"event": "logout", "event":'), "duplicate key"),
        "far_future_timestamp": (json.dumps({**good, "timestamp": iso(far_future)}).encode(), "in the future"),
        "impossible_date": (json.dumps({**good, "timestamp": "2024-13-45T25:61:00Z"}).encode(), "not an ISO 8601 time"),
        "epoch_number_timestamp": (json.dumps({**good, "timestamp": 1_764_500_000}).encode(), "ISO 8601 string"),
        "snapshot_negative_count": (_snapshot(active_users=-1, active_connections=1), "metrics.active_users"),
        "snapshot_huge_count": (_snapshot(active_users=10**40, active_connections=1), "metrics.active_users"),
        "snapshot_string_number": (_snapshot(active_users=1, active_connections="many"), "metrics.active_connections"),
        "oversized_body": (json.dumps({**good, "username": "x" * (MAX_PAYLOAD + 1000)}).encode(), ""),
    }
