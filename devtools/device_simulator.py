"""A fleet of simulated devices whose readings drift like real machines.

Each device starts near the middle of its type's normal band and follows a
mean-reverting random walk; now and then one develops a fault that pushes a
metric past its WARN and then its ALERT limit (with the matching status code)
before it recovers. Timestamps are per-device monotonic with millisecond
precision, so ``(device_id, timestamp_utc)`` is unique for every reading.
"""

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from telemetry.device_types import DEVICE_TYPES, SITES, DeviceType

TYPE_NAMES = tuple(DEVICE_TYPES)
SITE_NAMES = tuple(SITES)
# A faulty metric drifts this many band-widths beyond the band: WARN past 0.15, ALERT past 0.45.
WARN_EXCESS, ALERT_EXCESS = 0.15, 0.45


@dataclass
class SimDevice:
    device_id: str
    kind: DeviceType
    site_id: str
    firmware: str
    tags: dict
    values: list[float]
    fault_metric: int = -1
    fault_level: float = 0.0
    last_ms: int = 0


class Fleet:
    def __init__(self, *, devices: int = 100_000, seed: int | None = None, fault_rate: float = 0.002) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - simulated readings, reproducible from a seed
        self.fault_rate = fault_rate
        self.devices = [self._make_device(i) for i in range(devices)]

    def _make_device(self, index: int) -> SimDevice:
        kind = DEVICE_TYPES[TYPE_NAMES[index % len(TYPE_NAMES)]]
        site = SITE_NAMES[(index // len(TYPE_NAMES)) % len(SITE_NAMES)]
        rng = self.rng
        return SimDevice(
            device_id=f"{kind.id_prefix}-{index:06d}",
            kind=kind,
            site_id=site,
            firmware=rng.choice(kind.firmware),
            tags={k: rng.choice(v) for k, v in kind.tags.items()},
            values=[rng.uniform(m.low + (m.high - m.low) * 0.3, m.high - (m.high - m.low) * 0.3) for m in kind.metrics],
        )

    def _step(self, device: SimDevice) -> tuple[str, str, str]:
        rng = self.rng
        if device.fault_metric < 0 and rng.random() < self.fault_rate:
            device.fault_metric = rng.randrange(len(device.values))
        elif device.fault_metric >= 0 and rng.random() < 0.05:
            device.fault_metric, device.fault_level = -1, 0.0
        if device.fault_metric >= 0:
            device.fault_level = min(device.fault_level + rng.uniform(0.05, 0.2), 0.8)
        for i, metric in enumerate(device.kind.metrics):
            middle, width = (metric.low + metric.high) / 2, metric.high - metric.low
            value = device.values[i] + 0.2 * (middle - device.values[i]) + rng.gauss(0, width * 0.05)
            device.values[i] = value
        state, code, message = "OK", f"{device.kind.code_prefix}-OK", "Nominal"
        if device.fault_metric >= 0 and device.fault_level > WARN_EXCESS:
            metric = device.kind.metrics[device.fault_metric]
            limit = metric.high if metric.bad_direction > 0 else metric.low
            excess = (metric.high - metric.low) * device.fault_level * metric.bad_direction
            device.values[device.fault_metric] = limit + excess
            state = "ALERT" if device.fault_level > ALERT_EXCESS else "WARN"
            direction = "HIGH" if metric.bad_direction > 0 else "LOW"
            code = f"{device.kind.code_prefix}-{metric.name.split('_')[0].upper()}-{direction}"
            message = f"{metric.name} {'above' if metric.bad_direction > 0 else 'below'} normal band"
        return state, code, message

    def _timestamp(self, device: SimDevice, now: datetime) -> str:
        ms = int(now.timestamp() * 1000)
        ms = max(ms, device.last_ms + 1)
        device.last_ms = ms
        stamp = datetime.fromtimestamp(ms / 1000, UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    def reading(self, device: SimDevice, now: datetime | None = None, extra_tags: dict | None = None) -> dict:
        state, code, message = self._step(device)
        lat, lon = SITES[device.site_id]
        return {
            "device_id": device.device_id,
            "device_type": device.kind.name,
            "site_id": device.site_id,
            "timestamp_utc": self._timestamp(device, now or datetime.now(UTC)),
            "firmware": device.firmware,
            "metrics": {
                m.name: round(v, m.decimals) if m.decimals else round(v)
                for m, v in zip(device.kind.metrics, device.values, strict=True)
            },
            "status": {"state": state, "code": code, "message": message},
            "location": {"lat": lat, "lon": lon},
            "tags": {**device.tags, **extra_tags} if extra_tags else device.tags,
        }

    def watched(self, per_site: int) -> list[SimDevice]:
        """The first ``per_site`` devices of each site."""
        chosen, counts = [], {}
        for device in self.devices:
            if counts.get(device.site_id, 0) < per_site:
                counts[device.site_id] = counts.get(device.site_id, 0) + 1
                chosen.append(device)
        return chosen

    def messages(
        self, *, stamp_sent: dict | None = None, watch_per_site: int = 0, watch_interval_s: float = 2.0
    ) -> Iterator[tuple[SimDevice, bytes]]:
        """Endless readings: the fleet in a fixed rotation, plus watched devices.

        The rotation visits every device once per ``len(devices) / rate`` seconds,
        so a healthy simulated fleet stays online (a random pick would leave some
        devices silent for many periods). Besides it, ``watch_per_site`` devices of
        each site report every ``watch_interval_s`` seconds, so a drill-down has a
        dense chart within a minute of start-up.

        With ``stamp_sent``, those tags plus ``sent_at`` (epoch seconds) are added
        to each reading, so a benchmark can measure publish-to-commit latency.
        """
        devices = self.devices
        watched = self.watched(watch_per_site)
        next_watch = time.monotonic()
        index = self.rng.randrange(len(devices))
        while True:
            if watched and time.monotonic() >= next_watch:
                next_watch = max(next_watch + watch_interval_s, time.monotonic())
                for device in watched:
                    yield device, self._payload(device, stamp_sent)
            device = devices[index]
            index = (index + 1) % len(devices)
            yield device, self._payload(device, stamp_sent)

    def _payload(self, device: SimDevice, stamp_sent: dict | None) -> bytes:
        now = datetime.now(UTC)
        extra = {**stamp_sent, "sent_at": now.timestamp()} if stamp_sent is not None else None
        return json.dumps(self.reading(device, now, extra), separators=(",", ":")).encode()
