"""The MQTT ingest worker: the batch-worker base with an MQTT transport and the telemetry sink.

The base (``tier0site.workers``) receives, batches, retries and acknowledges
after the commit; it hands each batch once to ``TelemetrySink.handle``, which
validates and stores it (``readings_ingest``: readings and dead letters in one
transaction) and tells the live publisher. About once a second the live publisher bumps
the device cache versions of the groups that changed and sends one
``telemetry.update`` to the dashboard.
"""

import socket
from typing import ClassVar

from django.conf import settings

from telemetry import mqtt, rabbitmq
from telemetry.services import RawMessage, device_cache_bump, partitions_ensure, readings_ingest
from tier0site import live
from tier0site.transports import MqttTransport
from tier0site.workers import BatchWorker, Delivery, Handled, ShutdownFlag

MAX_ALERTS = 50


def _render(pending: dict, elapsed_s: float) -> dict:
    # Cache versions first: browsers refetch the device lists on this event.
    if pending["groups"]:
        device_cache_bump(groups=pending["groups"])
    alerts = sorted(pending["alerts"].values(), key=lambda r: r.timestamp, reverse=True)[:MAX_ALERTS]
    return {
        "received": pending["received"],
        "stored": pending["stored"],
        "dead_lettered": pending["dead_lettered"],
        "rate_per_s": live.rate_per_s(pending["received"], elapsed_s),
        "groups": sorted([site, device_type] for site, device_type in pending["groups"]),
        "alerts": [
            {
                "device_id": r.device_id,
                "site_id": r.site_id,
                "device_type": r.device_type,
                "state": r.state,
                "code": r.payload["status"].get("code", ""),
                "message": r.payload["status"].get("message", ""),
                "timestamp_utc": r.timestamp.isoformat(),
            }
            for r in alerts
        ],
    }


class TelemetrySink:
    kind = "telemetry"
    metrics_prefix = "tier0_mqtt"
    counters: ClassVar[dict[str, str]] = {
        "stored": "Readings stored",
        "duplicates": "Redelivered readings already stored",
        "dead_lettered": "Messages sent to dead letters",
    }

    def __init__(self, *, live_interval_s: float | None = None) -> None:
        interval = settings.TELEMETRY_LIVE_INTERVAL_S if live_interval_s is None else live_interval_s
        self.live = live.Publisher(live.TELEMETRY, interval_s=interval, merge=live.tally, render=_render, background=True)

    def handle(self, deliveries: list[Delivery], refused: list[tuple[Delivery, str]]) -> Handled:
        result = readings_ingest(
            messages=[RawMessage(d.meta, d.body) for d in deliveries],
            refused=[(RawMessage(d.meta, d.body), reason) for d, reason in refused],
        )
        counts = {"stored": result.stored, "duplicates": result.duplicates, "dead_lettered": result.dead_lettered}
        self.live.add({"received": result.received, **counts, "groups": result.groups, "alerts": result.alerts})
        return Handled(result, counts)

    def tick(self, *, busy: bool) -> None:
        self.live.flush()

    def close(self) -> None:
        self.live.flush(force=True)
        self.live.close()


def mqtt_ingest_worker(
    *,
    client_id: str | None = None,
    shared: bool = False,
    batch_size: int | None = None,
    flush_interval_s: float | None = None,
    host: str | None = None,
    port: int | None = None,
    shutdown: ShutdownFlag | None = None,
    transport: str | None = None,
    brokers: list[str] | None = None,
    prefetch: int | None = None,
    queue: str | None = None,
) -> BatchWorker:
    """``run_mqtt_consumer``: telemetry from MQTT (persistent session, optionally the shared group).

    ``transport`` (default ``TELEMETRY_TRANSPORT``): ``mosquitto``, an MQTT
    subscription; ``rabbitmq``, the cluster's quorum queue over AMQP
    (``telemetry.rabbitmq``; ``brokers``, ``prefetch``, ``queue``). The sink is the same.
    """
    partitions_ensure()
    batch_size = batch_size or settings.TELEMETRY_BATCH_SIZE
    if (transport or settings.TELEMETRY_TRANSPORT) == "rabbitmq":
        source = rabbitmq.amqp_transport(queue=queue, brokers=brokers, prefetch=prefetch)
        batch_size = min(batch_size, source.prefetch)
    else:
        client = mqtt.make_client(client_id or f"tier0-consumer-{socket.gethostname()}", manual_ack=True, persistent=True)
        source = MqttTransport(
            client,
            subscription=mqtt.telemetry_subscription(shared=shared),
            host=host or settings.MQTT_HOST,
            port=port or settings.MQTT_PORT,
        )
    return BatchWorker(
        name="mqtt_consumer",
        transport=source,
        sink=TelemetrySink(),
        batch_size=batch_size,
        linger_s=settings.TELEMETRY_FLUSH_INTERVAL_S if flush_interval_s is None else flush_interval_s,
        shutdown=shutdown,
    )
