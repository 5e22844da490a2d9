"""Steady load for the chaos drill, recording what each broker acknowledged.

``DeviceLoad`` publishes the project's simulated fleet (``devtools.device_simulator``)
over MQTT QoS 1 and records a message as acknowledged when its PUBACK arrives;
``UserLoad`` publishes user-session events with the project's
``ConfirmedPublisher`` and records a message when the broker's publisher
confirm (basic.ack) arrives. Every message carries the current ``phase`` (the
fault being drilled) and its send time, so stored rows can be matched to the
acknowledged messages of each fault.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime

from pika.spec import Basic

from devtools.amqp_publisher import ConfirmedPublisher, Outgoing
from devtools.device_simulator import Fleet
from telemetry import mqtt


class Ledger:
    """Per phase: message key -> send time, for everything acknowledged; and counts published."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, dict[str, float]] = defaultdict(dict)
        self.published: dict[str, int] = defaultdict(int)

    def sent(self, phase: str) -> None:
        with self.lock:
            self.published[phase] += 1

    def ack(self, phase: str, key: str, sent_at: float) -> None:
        with self.lock:
            self.acked[phase][key] = sent_at

    def acked_keys(self, phase: str, *, sent_before: float | None = None) -> set[str]:
        with self.lock:
            items = list(self.acked[phase].items())
        return {k for k, t in items if sent_before is None or t <= sent_before}


class DeviceLoad(threading.Thread):
    """The device simulator's messages over MQTT at ``rate`` per second, PUBACKs recorded."""

    def __init__(self, *, port: int, rate: float, devices: int = 2000) -> None:
        super().__init__(name="drill-devices", daemon=True)
        self.port, self.rate = port, rate
        self.stamp = {"drill": "warmup"}  # read by the simulator for every message's tags
        self.ledger = Ledger()
        self.stop_event = threading.Event()
        self.fleet = Fleet(devices=devices)
        self.pending: dict[int, tuple[str, str, float]] = {}  # mid -> (phase, key, sent_at)
        self.acked_mids: deque[int] = deque()  # appended by paho's thread, read by this one

    @property
    def phase(self) -> str:
        return self.stamp["drill"]

    @phase.setter
    def phase(self, value: str) -> None:
        self.stamp["drill"] = value

    def run(self) -> None:
        client = mqtt.make_client(f"tier0-drill-devices-{uuid.uuid4().hex[:8]}")
        client.on_publish = lambda _c, _u, mid, _rc, _p: self.acked_mids.append(mid)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        client.connect_async("127.0.0.1", self.port, keepalive=10)
        client.loop_start()  # paho's thread reconnects and resends unacknowledged messages
        try:
            messages = self.fleet.messages(stamp_sent=self.stamp)
            started, sent = time.monotonic(), 0
            while not self.stop_event.is_set():
                due = int((time.monotonic() - started) * self.rate) - sent
                for device, payload in (next(messages) for _ in range(max(0, due))):
                    body = json.loads(payload)
                    info = client.publish(
                        mqtt.telemetry_topic(device.site_id, device.kind.name, device.device_id), payload, qos=1
                    )
                    tags = body["tags"]
                    self.pending[info.mid] = (tags["drill"], f"{device.device_id}|{body['timestamp_utc']}", tags["sent_at"])
                    self.ledger.sent(tags["drill"])
                    sent += 1
                self._settle()
                time.sleep(0.01)
            self._drain(client)
        finally:
            client.disconnect()
            client.loop_stop()

    def _settle(self) -> None:
        while self.acked_mids:
            entry = self.pending.pop(self.acked_mids.popleft(), None)
            if entry:
                self.ledger.ack(*entry)

    def _drain(self, client, timeout_s: float = 15) -> None:
        """After stop: wait a while for the last PUBACKs (unacknowledged ones are not counted)."""
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:
            self._settle()
            time.sleep(0.02)


@dataclass(slots=True)
class Tracked(Outgoing):
    phase: str = ""
    key: str = ""
    sent_at: float = 0.0


class _RecordingPublisher(ConfirmedPublisher):
    """The project's pipelined-confirms publisher, also noting which messages the broker confirmed."""

    def __init__(self, *, ledger: Ledger, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ledger = ledger

    def _on_confirm(self, frame) -> None:
        before = dict(self._outstanding)
        super()._on_confirm(frame)
        if isinstance(frame.method, Basic.Ack):
            for tag, message in before.items():
                if tag not in self._outstanding:
                    self.ledger.ack(message.phase, message.key, message.sent_at)


class UserLoad(threading.Thread):
    """User-session events over AMQP with publisher confirms: each event a new session (one row each)."""

    def __init__(self, *, url: str, queue: str, rate: float) -> None:
        super().__init__(name="drill-users", daemon=True)
        self.phase = "warmup"
        self.ledger = Ledger()
        self.stop_event = threading.Event()
        self.run_id = uuid.uuid4().hex[:6]
        self.publisher = _RecordingPublisher(ledger=self.ledger, queue=queue, url=url, window=500)
        self.rate = rate
        self.report = None

    def _events(self):
        n = 0
        while True:
            n += 1
            phase, now = self.phase, time.time()
            session_id = f"drill-{self.run_id}-{n:08d}"
            self.ledger.sent(phase)
            body = {
                "user_id": f"drill-U{n % 500:04d}",
                "session_id": session_id,
                "event": "login",
                "connection_status": "active",
                "region": "US-WEST",
                "site_id": site_marker(phase),
                "ip_address": f"10.9.{n // 250 % 250}.{n % 250 + 1}",
                "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
            }
            yield Tracked(body=json.dumps(body).encode(), phase=phase, key=session_id, sent_at=now)

    def run(self) -> None:
        self.report = self.publisher.publish_all(self._events(), rate=self.rate, stop=self.stop_event)


def site_marker(phase: str) -> str:
    return f"DRILL-{phase}"[:64]
