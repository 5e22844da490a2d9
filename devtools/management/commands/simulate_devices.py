"""Publish simulated device telemetry to MQTT (og/field/{site}/{type}/{id}).

The fleet is visited in a fixed rotation, and the first four devices of each
site (one of each type, the first a filtered device list shows) report every
2 s besides, so their drill-down charts fill at once. At the default 200/s those
take 20/s and the rest of the 100,000 devices report every 555 s or so, within
``DEVICE_REPORT_INTERVAL_S`` (600).
"""

from django.core.management.base import BaseCommand

from devtools.device_publisher import fleet_publish
from devtools.device_simulator import Fleet
from telemetry import mqtt
from tier0site.progress import Progress
from tier0site.workers import ShutdownFlag


class Command(BaseCommand):
    help = "Simulate a fleet of devices publishing telemetry over MQTT (QoS 1 by default)."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=100_000)
        parser.add_argument(
            "--rate", type=float, default=200.0, help="messages per second (the seed: 1,000 devices every 5 s); 0 = unthrottled"
        )
        parser.add_argument(
            "--watch-per-site", type=int, default=4, help="devices per site that also report every --watch-interval s (0: none)"
        )
        parser.add_argument("--watch-interval", type=float, default=2.0, help="seconds between readings of watched devices")
        parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until stopped)")
        parser.add_argument("--count", type=int, default=None, help="messages to publish (default: until stopped)")
        parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--client-id", default="tier0-simulator")
        parser.add_argument(
            "--brokers",
            default=None,
            help="host:port,host:port: MQTT brokers (cluster nodes) to use, the next when one dies (default MQTT_BROKERS)",
        )

    def handle(self, *args, **options):
        shutdown = ShutdownFlag().install()
        fleet = Fleet(devices=options["devices"], seed=options["seed"])
        progress = Progress("published", options["count"])
        report = fleet_publish(
            fleet,
            count=options["count"],
            duration_s=options["duration"],
            rate=options["rate"] or None,
            qos=options["qos"],
            client_id=options["client_id"],
            progress=progress,
            stop=shutdown.event,
            watch_per_site=options["watch_per_site"],
            watch_interval_s=options["watch_interval"],
            brokers=mqtt.broker_list(options["brokers"]),
        )
        progress.close()
        self.stdout.write(f"published {report.published} messages in {report.seconds:.1f}s ({report.rate:.0f}/s)")
