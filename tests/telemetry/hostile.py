"""Hostile telemetry messages, one of each kind, for the fuzz suite.

Each has a topic of its own under the test's prefix (device ``FUZZ-<n>``), so
its dead letter can be found by topic. ``broker_drops`` marks the ones larger
than Mosquitto's ``message_size_limit``: the broker acknowledges and drops
them, no consumer ever sees them.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_PAYLOAD = 64 * 1024


@dataclass(frozen=True)
class Hostile:
    kind: str
    topic: str
    payload: bytes
    # What the dead-letter reason must contain ("" for messages the broker drops).
    expect: str = ""
    broker_drops: bool = False


def _reading(device_id: str, **overrides) -> dict:
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    body = {
        "device_id": device_id,
        "device_type": "turbine",
        "site_id": "SITE-FUZZ",
        "timestamp_utc": now,
        "metrics": {"rpm": 3400, "vibration_mm_s": 2.1},
        "status": {"state": "OK", "code": "TURB-OK"},
    }
    body.update(overrides)
    return body


def _metrics(device_id: str, **metrics) -> bytes:
    return json.dumps(_reading(device_id, metrics={"rpm": 1, **metrics})).encode()


def _kinds(device: str) -> dict[str, bytes | tuple[str, bytes]]:
    """kind -> payload, or (topic device id, payload) when the topic must differ."""
    good = _reading(device)
    dumped = json.dumps(good).encode()
    long_id = device + "X" * 10_000
    return {
        "deep_nesting_lists": b"[" * 30_000 + b"]" * 30_000,
        "deep_nesting_objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        "nesting_past_the_limit_in_tags": json.dumps(_reading(device, tags=json.loads("[" * 40 + "]" * 40))).encode(),
        "huge_integer_metric": dumped.replace(b'"rpm": 3400', b'"rpm": ' + b"9" * 6_000),
        "empty": b"",
        "null": b"null",
        "json_string": b'"turbine"',
        "json_list": b"[1, 2, 3]",
        "truncated_json": dumped[: len(dumped) // 2],
        "nan_metric": dumped.replace(b'"rpm": 3400', b'"rpm": NaN'),
        "infinity_metric": dumped.replace(b'"rpm": 3400', b'"rpm": -Infinity'),
        "overflowing_float": dumped.replace(b'"rpm": 3400', b'"rpm": 1e999'),
        "boolean_metric": _metrics(device, running=True),
        "string_metric": _metrics(device, rpm_text="fast"),
        "nested_metrics": _metrics(device, bearing={"temp_c": 70}),
        "metrics_as_list": json.dumps(_reading(device, metrics=[1, 2])).encode(),
        "too_many_metrics": json.dumps(_reading(device, metrics={f"m{i}": i for i in range(300)})).encode(),
        "10000_char_device_id": (long_id, json.dumps(_reading(long_id)).encode()),
        "topic_payload_mismatch": json.dumps(_reading(device + "-OTHER")).encode(),
        "invalid_utf8": dumped.replace(b"TURB-OK", b"\xff\xfe\xfd"),
        "raw_nul_byte": dumped.replace(b"TURB-OK", b"TURB\x00OK"),
        "escaped_nul": dumped.replace(b"TURB-OK", b"TURB\\u0000OK"),
        "lone_surrogate": dumped.replace(b"TURB-OK", b"\\udc00"),
        "utf16_encoded": json.dumps(good).encode("utf-16"),
        "duplicate_keys": dumped.replace(b'"metrics":', b'"metrics": {}, "metrics":'),
        "far_future_timestamp": json.dumps(_reading(device, timestamp_utc="9999-12-31T23:59:59Z")).encode(),
        "ancient_timestamp": json.dumps(_reading(device, timestamp_utc="1970-01-01T00:00:00Z")).encode(),
        "beyond_retention": json.dumps(
            _reading(device, timestamp_utc=(datetime.now(UTC) - timedelta(days=400)).isoformat())
        ).encode(),
        "impossible_date": json.dumps(_reading(device, timestamp_utc="2024-13-45T25:61:00Z")).encode(),
        "epoch_number_timestamp": json.dumps(_reading(device, timestamp_utc=1_764_500_000)).encode(),
        "missing_device_id": json.dumps({k: v for k, v in good.items() if k != "device_id"}).encode(),
        "oversized_payload": json.dumps(_reading(device, tags={"blob": "x" * (MAX_PAYLOAD + 1000)})).encode(),
    }


EXPECTED_REASONS = {
    "deep_nesting_lists": "nested deeper",
    "deep_nesting_objects": "nested deeper",
    "nesting_past_the_limit_in_tags": "nested deeper",
    "huge_integer_metric": "digits",
    "empty": "Expecting value",
    "null": "not NoneType",
    "json_string": "not str",
    "json_list": "not list",
    "truncated_json": "json:",
    "nan_metric": "NaN",
    "infinity_metric": "Infinity",
    "overflowing_float": "'rpm' must be a finite number, not float",
    "boolean_metric": "'running' must be a finite number, not bool",
    "string_metric": "'rpm_text' must be a finite number, not str",
    "nested_metrics": "'bearing' must be a finite number, not dict",
    "metrics_as_list": "'metrics' must be an object",
    "too_many_metrics": "more than 256 metrics",
    "10000_char_device_id": "longer than 64",
    "topic_payload_mismatch": "disagree on device_id",
    "invalid_utf8": "not UTF-8",
    "raw_nul_byte": "Invalid control character",
    "escaped_nul": "NUL",
    "lone_surrogate": "surrogate",
    "utf16_encoded": "not UTF-8",
    "duplicate_keys": "duplicate key 'metrics'",
    "far_future_timestamp": "in the future",
    "ancient_timestamp": "retention",
    "beyond_retention": "retention",
    "impossible_date": "not ISO 8601",
    "epoch_number_timestamp": "must be an ISO 8601 string",
    "missing_device_id": "'device_id' must be a non-empty string",
    "oversized_payload": "",
}


def hostile_messages(prefix: str) -> list[Hostile]:
    messages = []
    for index, (kind, spec) in enumerate(_kinds("FUZZ").items()):
        device = f"FUZZ-{index}"
        topic_device, payload = spec if isinstance(spec, tuple) else (device, spec)
        if isinstance(spec, tuple):
            topic_device = topic_device.replace("FUZZ", device, 1)
            payload = payload.replace(b"FUZZ", device.encode(), 1)
        else:
            payload = payload.replace(b'"FUZZ', f'"{device}'.encode())
        topic = f"{prefix}/SITE-FUZZ/turbine/{topic_device}"
        messages.append(Hostile(kind, topic, payload, EXPECTED_REASONS[kind], broker_drops=len(payload) > MAX_PAYLOAD))
    return messages
