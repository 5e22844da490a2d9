"""Telemetry streams shaped like real fleets, for the acceptance and fuzz tests.

``seed_like_stream`` follows the seed system's device simulator rather than our
templates: electrical rotors with ``rpm, voltage_v, current_a, frequency_hz,
power_factor, bearing_temp_c, winding_temp_c``, state CRITICAL for 2 % of
turbines and thermal engines, microsecond timestamps, ids like ``TURB-00000``
and sites outside our list.
"""

import json
import random
from datetime import UTC, datetime, timedelta

from tests.support.waiting import wait_until

SEED_SITES = ("CA-DELTA", "MT-PEAK", "WY-ALPHA", "TX-EAGLE", "NV-BASIN", "ND-RAVEN")
SEED_METRICS = {
    "turbine": ("TURB", ("rpm", "inlet_temp_c", "exhaust_temp_c", "vibration_mm_s", "pressure_bar", "power_kw")),
    "thermal_engine": ("THRM", ("rpm", "coolant_temp_c", "oil_temp_c", "oil_pressure_bar", "load_pct", "exhaust_temp_c")),
    "electrical_rotor": (
        "EROT",
        ("rpm", "voltage_v", "current_a", "frequency_hz", "power_factor", "bearing_temp_c", "winding_temp_c"),
    ),
    "connected_device": ("OGC", ("wellhead_pressure_bar", "flow_rate_m3_h", "battery_soc_pct", "signal_strength_dbm")),
}


def _state(rng: random.Random, device_type: str) -> str:
    roll = rng.random()
    if device_type in ("turbine", "thermal_engine") and roll < 0.02:
        return "CRITICAL"
    return "ALERT" if roll < 0.05 else "WARN" if roll < 0.12 else "OK"


def seed_like_payload(rng: random.Random, index: int, at: datetime) -> dict:
    device_type = rng.choice(tuple(SEED_METRICS))
    prefix, metrics = SEED_METRICS[device_type]
    state = _state(rng, device_type)
    return {
        "device_id": f"{prefix}-{index % 1000:05d}",
        "device_type": device_type,
        "site_id": rng.choice(SEED_SITES),
        "timestamp_utc": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "firmware": rng.choice(("1.0.0", "2.1.3-beta", "3.0")),
        "metrics": {name: round(rng.uniform(0, 5000), rng.choice((0, 1, 3))) for name in metrics},
        "status": {"state": state, "code": f"{prefix}-{state}", "message": "simulated"},
        "location": {"lat": round(rng.uniform(-60, 70), 4), "lon": round(rng.uniform(-170, 170), 4)},
        "tags": {"fleet": "seed"},
    }


def seed_like_stream(count: int, prefix: str, *, seed: int = 1) -> list[tuple[str, bytes]]:
    """``count`` (topic, payload) pairs, every (device_id, timestamp) distinct."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=10)
    messages = []
    for index in range(count):
        payload = seed_like_payload(rng, index, start + timedelta(microseconds=index * 137))
        topic = f"{prefix}/{payload['site_id']}/{payload['device_type']}/{payload['device_id']}"
        messages.append((topic, json.dumps(payload).encode()))
    return messages


PROBE_DEVICE = "PROBE-1"


def probe_message(prefix: str) -> tuple[str, bytes]:
    """A valid reading of a device of its own: stored means the consumer is subscribed and storing."""
    at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    payload = seed_like_payload(random.Random(), 0, datetime.now(UTC)) | {"device_id": PROBE_DEVICE, "timestamp_utc": at}
    topic = f"{prefix}/{payload['site_id']}/{payload['device_type']}/{PROBE_DEVICE}"
    return topic, json.dumps(payload).encode()


def wait_consumer_storing(prefix: str, timeout: float = 60) -> None:
    """Publish probes until one is stored (a message published before the subscription is not queued)."""
    from telemetry.models import TelemetryReading
    from tests.support.mqtt import publish

    def stored() -> bool:
        if TelemetryReading.objects.filter(device_id=PROBE_DEVICE).exists():
            return True
        publish([probe_message(prefix)])
        return False

    wait_until(stored, timeout, 0.5, "the consumer did not store a probe reading")
