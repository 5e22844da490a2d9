"""The chaos drill: SIGKILL each part of the ingest path under steady load and count what survived.

For each fault the loads publish in a phase named after it; the component is
killed, kept down for ``down_s`` and started again. Then:

* ``catch_up_s``: seconds from the kill until the store holds every message
  acknowledged before the restart that it will ever hold (the last moment that
  set grew, or the moment it was complete);
* ``acknowledged``: messages of the phase the broker acknowledged (PUBACK,
  publisher confirm); ``stored``: those of them found in the drill's database;
  ``lost``: acknowledged but not stored; ``duplicates``: extra rows for one
  natural key; ``stored_unacknowledged``: stored though the publisher never saw
  the acknowledgement (in flight at the crash: at-least-once, not a loss).

Between faults the loads keep running in a ``steady`` phase, reported last as
the control.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import psycopg

from devtools.drill_load import DeviceLoad, Ledger, UserLoad, site_marker
from devtools.drill_stack import QUEUE, DrillStack

FAULTS = ("mosquitto", "mqtt_consumer", "rabbitmq_consumer", "rabbitmq", "redis", "postgresql")
EXTRA_FAULTS = ("mosquitto_backlog",)  # the broker dies while its consumer is away: the autosave case
# What each fault is killed as, and which pipeline it can cost.
KILLS = {"mosquitto_backlog": ("mqtt_consumer", "mosquitto")}
AFFECTS = {
    "mosquitto": ("telemetry",),
    "mosquitto_backlog": ("telemetry",),
    "mqtt_consumer": ("telemetry",),
    "rabbitmq_consumer": ("sessions",),
    "rabbitmq": ("sessions",),
    "redis": ("telemetry", "sessions"),
    "postgresql": ("telemetry", "sessions"),
    "steady": ("telemetry", "sessions"),
}
# Mosquitto keeps its queue in memory and writes it every autosave_interval: a
# killed broker may lose what it had acknowledged since. Everything else must lose nothing.
LOSS_ALLOWED = {"mosquitto", "mosquitto_backlog"}

TELEMETRY_SQL = """
    SELECT device_id || '|' || to_char(timestamp_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), count(*)
    FROM telemetry_reading WHERE tags->>'drill' = %s GROUP BY 1
"""
# A message *sent* after the restart is stored: the pipeline flows again end to end.
FLOWING_SQL = {
    "telemetry": "SELECT EXISTS (SELECT 1 FROM telemetry_reading WHERE (tags->>'sent_at')::float > %s)",
    "sessions": "SELECT EXISTS (SELECT 1 FROM sessions_app_usersession WHERE last_event_at > to_timestamp(%s))",
}
SESSIONS_SQL = "SELECT session_id, count(*) FROM sessions_app_usersession WHERE site_id = %s GROUP BY 1"


@dataclass
class DrillConfig:
    before_s: float = 3.0  # steady load before the kill
    down_s: float = 2.0  # how long the component stays dead
    backlog_s: float = 5.0  # mosquitto_backlog: consumer away this long before the broker dies
    settle_s: float = 3.0  # nothing new stored for this long: what is missing stays missing
    timeout_s: float = 120.0
    device_rate: float = 200.0
    user_rate: float = 100.0


class Drill:
    def __init__(self, stack: DrillStack, config: DrillConfig) -> None:
        self.stack, self.config = stack, config
        self.devices = DeviceLoad(port=stack.mosquitto.port, rate=config.device_rate)
        self.users = UserLoad(url=stack.rabbit.url, queue=QUEUE, rate=config.user_rate)
        self.ledgers = {"telemetry": self.devices.ledger, "sessions": self.users.ledger}
        self.down: set[str] = set()
        self.crashes: list[tuple[str, str]] = []  # (phase, where the consumer died)
        self._conn: psycopg.Connection | None = None

    def start_load(self) -> None:
        self._set_phase("steady")
        self.devices.start()
        self.users.start()

    def stop_load(self) -> None:
        for load in (self.devices, self.users):
            load.stop_event.set()
        for load in (self.devices, self.users):
            load.join(timeout=60)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _set_phase(self, phase: str) -> None:
        self.devices.phase = phase
        self.users.phase = phase

    # --- one fault ---------------------------------------------------------------------
    def run_fault(self, fault: str) -> dict:
        cfg = self.config
        # Start from a caught-up pipeline, so what the fault costs is counted against the fault.
        steady = {name: ledger.acked_keys("steady") for name, ledger in self.ledgers.items()}
        self._wait_stored("steady", steady, since=time.time(), flowing_after=None)
        self._set_phase(fault)
        self._steady(cfg.before_s)
        kills = KILLS.get(fault, (fault,))
        t_kill = time.time()
        for i, component in enumerate(kills):
            self.down.add(component)
            self.stack.kill(component)
            if i < len(kills) - 1:
                self._steady(cfg.backlog_s)  # publishing on, nobody consuming: a queue builds up
        self._steady(cfg.down_s)
        started = time.monotonic()
        for component in reversed(kills):
            self.stack.start(component)
            self.down.discard(component)
        restart_s = time.monotonic() - started
        t_back = time.time()
        targets = {name: ledger.acked_keys(fault, sent_before=t_back) for name, ledger in self.ledgers.items()}
        catch_up = self._wait_stored(fault, targets, since=t_kill, flowing_after=t_back)
        self._set_phase("steady")
        return self.figures(fault, catch_up, down_s=t_back - t_kill, restart_s=restart_s)

    def figures(self, phase: str, catch_up: dict[str, float | None], *, load_on: bool = True, **extra) -> dict:
        """Final counts of a phase, once its acknowledged messages are stored or stopped arriving."""
        finals = {name: ledger.acked_keys(phase) for name, ledger in self.ledgers.items()}
        now = time.time()
        self._wait_stored(phase, finals, since=now, flowing_after=now if load_on else None)
        per = {}
        for name, acked in ((n, ledger.acked_keys(phase)) for n, ledger in self.ledgers.items()):
            rows = self._stored(name, phase)
            found = acked & rows.keys()
            per[name] = {
                "published": self.ledgers[name].published[phase],
                "acknowledged": len(acked),
                "stored": len(found),
                "lost": len(acked) - len(found),
                "duplicates": sum(n - 1 for n in rows.values()),
                "stored_unacknowledged": len(rows.keys() - acked),
                "catch_up_s": catch_up.get(name),
            }
        affected = [per[name] for name in AFFECTS[phase]]
        head = {key: sum(p[key] for p in affected) for key in ("acknowledged", "stored", "lost", "duplicates")}
        waits = [p["catch_up_s"] for p in affected if p["catch_up_s"] is not None]
        return {
            "fault": phase,
            **head,
            "catch_up_s": max(waits) if waits else None,
            "loss_allowed": phase in LOSS_ALLOWED,
            **{k: round(v, 2) for k, v in extra.items()},
            "consumer_restarts_after_crash": [what for when, what in self.crashes if when == phase],
            **per,
        }

    # --- waiting and counting -----------------------------------------------------------
    def _steady(self, seconds: float) -> None:
        """Let the load run, restarting any consumer that died on its own (not one we killed)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._supervise()
            time.sleep(0.1)

    def _supervise(self) -> None:
        for name, proc in list(self.stack.consumers.items()):
            if name not in self.down and proc.poll() is not None:
                where = _crash_summary(self.stack.consumer_log_tail(name, 6000))
                self.crashes.append((self.devices.phase, f"{name}: {where}"))
                self.stack.consumer_start(name)

    def _wait_stored(
        self, phase: str, targets: dict[str, set[str]], *, since: float, flowing_after: float | None
    ) -> dict[str, float | None]:
        """Poll until each target set is stored, or stopped growing for settle_s, and the pipeline flows.

        Flowing means a message *sent* after ``flowing_after`` is stored (end to end
        again: a consumer still reconnecting is not done, even if nothing was owed).
        Returns, per pipeline, the seconds from ``since`` until the later of: the
        target's last growth (or completion) and the first flowing poll.
        """
        done_at: dict[str, float | None] = {name: None for name in targets}
        flowing_at = dict.fromkeys(targets, since if flowing_after is None else None)
        last_count = dict.fromkeys(targets, -1)
        last_change = dict.fromkeys(targets, time.time())
        deadline = time.monotonic() + self.config.timeout_s
        while time.monotonic() < deadline:
            self._supervise()
            pending = [n for n in targets if done_at[n] is None]
            if not pending:
                break
            for name in pending:
                count = len(targets[name] & self._stored(name, phase).keys())
                now = time.time()
                if count != last_count[name]:
                    last_count[name], last_change[name] = count, now
                if flowing_at[name] is None and self._flowing(name, flowing_after):
                    flowing_at[name] = now
                if flowing_at[name] is None:
                    continue
                if count == len(targets[name]) or now - last_change[name] > self.config.settle_s:
                    done_at[name] = max(last_change[name], flowing_at[name])
            time.sleep(0.2)
        return {n: round(max(0.0, t - since), 2) if t is not None else None for n, t in done_at.items()}

    def _flowing(self, pipeline: str, after: float) -> bool:
        row = self._query(FLOWING_SQL[pipeline], after)
        return bool(row and row[0][0])

    def _stored(self, pipeline: str, phase: str) -> dict[str, int]:
        sql, arg = (TELEMETRY_SQL, phase) if pipeline == "telemetry" else (SESSIONS_SQL, site_marker(phase))
        return dict(self._query(sql, arg) or [])

    def _query(self, sql: str, arg) -> list[tuple] | None:
        """One query on a kept connection (the machine is small: no connection per poll); None while it is down."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self.stack.db()
            return self._conn.execute(sql, [arg]).fetchall()
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                if self._conn is not None:
                    self._conn.close()
            self._conn = None
            return None


def _crash_summary(log: str) -> str:
    """The project's frames of the last traceback and the error: where the consumer died, in a few lines."""
    lines = log.splitlines()
    ours = [ln.strip() for ln in lines if ln.strip().startswith('File "') and ".venv" not in ln and "/lib/python" not in ln]
    error = next((ln for ln in reversed(lines) if ln and not ln.startswith(" ")), "")
    return " | ".join([*ours[-3:], error])[-600:]


def run_drill(stack: DrillStack, config: DrillConfig, faults: tuple[str, ...], emit) -> list[dict]:
    """Run ``faults`` in turn under load; ``emit`` gets each fault's figures, then the control."""
    drill = Drill(stack, config)
    drill.start_load()
    results = []
    try:
        drill._steady(config.before_s)
        for fault in faults:
            results.append(drill.run_fault(fault))
            emit(results[-1])
        drill.stop_load()
        results.append(drill.figures("steady", {}, load_on=False))
        emit(results[-1])
    finally:
        drill.stop_load()
        drill.close()
    return results


__all__ = ["EXTRA_FAULTS", "FAULTS", "DrillConfig", "Ledger", "run_drill"]
