"""SIGKILL each part of the ingest path under steady load, on instances of the drill's own.

Prints one JSON line per fault (see devtools/chaos.py for what each figure means)
and a last line for the steady phases between faults (the control).
"""

import json
import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError

from devtools.chaos import EXTRA_FAULTS, FAULTS, DrillConfig, run_drill
from devtools.drill_stack import DrillStack

QUICK = DrillConfig(before_s=1.0, down_s=0.5, settle_s=1.5, timeout_s=20.0, device_rate=100.0, user_rate=50.0)
FULL = DrillConfig(before_s=5.0, down_s=5.0, backlog_s=10.0, settle_s=5.0, timeout_s=180.0)


def _autosave(spec: str) -> dict[str, str]:
    """``60`` -> every 60 s; ``changes:100`` -> after every 100 changes (autosave_on_changes)."""
    if spec.startswith("changes:"):
        return {"autosave_on_changes": "true", "autosave_interval": spec.split(":", 1)[1]}
    return {"autosave_on_changes": "false", "autosave_interval": spec}


def _raise_interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Kill Mosquitto, each consumer, RabbitMQ, Redis and PostgreSQL in turn under load; count what was lost."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print only the JSON lines")
        parser.add_argument("--quick", action="store_true", help="the six faults in at most 90 s (run by make test)")
        parser.add_argument(
            "--faults",
            default=None,
            help=f"comma-separated, in order (default: {','.join(FAULTS)}; full mode adds {','.join(EXTRA_FAULTS)})",
        )
        parser.add_argument("--device-rate", type=float, default=None, help="MQTT messages per second")
        parser.add_argument("--user-rate", type=float, default=None, help="AMQP messages per second")
        parser.add_argument("--down", type=float, default=None, help="seconds each component stays dead")
        parser.add_argument(
            "--mosquitto-autosave",
            default=None,
            help="override the broker's autosave: seconds (e.g. 1) or changes:N (autosave_on_changes); "
            "default: deploy/mosquitto/mosquitto.conf as shipped",
        )

    def handle(self, *args, **options):
        config = QUICK if options["quick"] else FULL
        for option, attr in (("device_rate", "device_rate"), ("user_rate", "user_rate"), ("down", "down_s")):
            if options[option] is not None:
                setattr(config, attr, options[option])
        default_faults = FAULTS if options["quick"] else FAULTS + EXTRA_FAULTS
        faults = tuple(options["faults"].split(",")) if options["faults"] else default_faults
        unknown = set(faults) - set(FAULTS + EXTRA_FAULTS)
        if unknown:
            raise CommandError(f"unknown faults: {', '.join(sorted(unknown))}")
        overrides = _autosave(options["mosquitto_autosave"]) if options["mosquitto_autosave"] else None
        # The drill's own publishers log every refused reconnect while a broker is down, by design.
        for name, level in (
            ("pika", logging.CRITICAL),
            ("devtools.amqp_publisher", logging.ERROR),
            ("failover", logging.WARNING),
        ):
            logging.getLogger(name).setLevel(level)
        # SIGTERM (a timeout, a process manager) must still tear the drill's services down.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        started = time.monotonic()
        stack = DrillStack(mosquitto_overrides=overrides)
        quiet = options["json"]

        def emit(result: dict) -> None:
            result["mosquitto_autosave"] = options["mosquitto_autosave"] or "as shipped"
            self.stdout.write(json.dumps(result))

        try:
            if not quiet:
                self.stdout.write(f"starting the drill's own services under {stack.root}")
            stack.up()
            if not quiet:
                self.stdout.write(f"up in {time.monotonic() - started:.1f}s; faults: {', '.join(faults)}")
            run_drill(stack, config, faults, emit)
        finally:
            stack.down()
        if not quiet:
            self.stdout.write(f"drill finished in {time.monotonic() - started:.1f}s")
