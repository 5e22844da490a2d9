"""A population of enterprise users whose sessions live realistic lives.

Each user has a home region and site and takes turns: offline users log in
(a new ``session_id``), active users keep working (``active`` events), fall
quiet and, after ``idle_after_s`` without activity, go ``idle``; idle users
come back or log out (``disconnected``), and later log in again with a new
session. Every ``snapshot_interval_s`` each site sends a snapshot shaped like
the seed's ``users_sample.json``. Timestamps are the wall clock at the moment
the message is built (just before it is published).
"""

import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from devtools.amqp_publisher import Outgoing
from sessions_app.amqp import EVENT_TYPE, SNAPSHOT_TYPE

# The seed's regions (NA, EU, APAC) in the sample's US-WEST / US-EAST style, with their sites.
REGION_SITES = {
    "US-WEST": ["SFO-WEB-01", "SEA-WEB-01"],
    "US-EAST": ["NYC-WEB-01", "IAD-WEB-01"],
    "NA-CENTRAL": ["CHI-WEB-01"],
    "EU-WEST": ["LON-WEB-01", "DUB-WEB-01"],
    "EU-CENTRAL": ["FRA-WEB-01"],
    "APAC": ["SIN-WEB-01", "TYO-WEB-01"],
    "APAC-SOUTH": ["SYD-WEB-01"],
}
FIRST_NAMES = ["alex", "maria", "chen", "priya", "omar", "sofia", "liam", "yuki", "fatima", "noah", "elena", "raj", "ana", "ivan"]
LAST_INITIALS = "abcdefghijklmnoprstwz"
PRIVATE_PREFIXES = ["10.10", "172.16", "192.168"]

# Chances per turn (a user gets a turn about every users/rate seconds).
P_LOGIN = 0.15
P_FIRST_LOGIN = 0.6
P_GO_QUIET = 0.05
P_LOGOUT_ACTIVE = 0.01
P_RESUME_QUIET = 0.3
P_RESUME_IDLE = 0.1
P_LOGOUT_IDLE = 0.08


@dataclass
class SimUser:
    user_id: str
    username: str
    region: str
    site_id: str
    state: str = "offline"  # offline | active | idle
    quiet: bool = False
    session_id: str = ""
    ip_address: str = ""
    login_time: datetime | None = None
    last_activity: datetime | None = None
    started: bool = False


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class Population:
    def __init__(
        self,
        *,
        users: int = 1000,
        idle_after_s: float = 300.0,
        seed: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - simulated users, reproducible from a seed
        self.idle_after_s = idle_after_s
        self.clock = clock or (lambda: datetime.now(UTC))
        regions = list(REGION_SITES)
        self.users = []
        for n in range(users):
            region = regions[n % len(regions)]
            self.users.append(
                SimUser(
                    user_id=f"USR-{n + 1:05d}",
                    username=f"{self.rng.choice(FIRST_NAMES)}_{self.rng.choice(LAST_INITIALS)}{n + 1}",
                    region=region,
                    site_id=self.rng.choice(REGION_SITES[region]),
                )
            )
        self.order = list(range(users))
        self.rng.shuffle(self.order)
        self.position = 0

    def next_event(self) -> dict:
        """The next event some user produces (users without news are skipped)."""
        while True:
            user = self.users[self.order[self.position]]
            self.position = (self.position + 1) % len(self.order)
            event = self._turn(user, self.clock())
            if event is not None:
                return event

    def _turn(self, user: SimUser, now: datetime) -> dict | None:
        rng = self.rng
        if user.state == "offline":
            chance = P_LOGIN if user.started else P_FIRST_LOGIN
            user.started = True
            if rng.random() >= chance:
                return None
            user.state, user.quiet = "active", False
            user.session_id = f"SESS-{uuid.uuid4().hex[:16].upper()}"
            user.ip_address = f"{rng.choice(PRIVATE_PREFIXES)}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
            user.login_time = user.last_activity = now
            return self._event(user, "login", now)
        if user.state == "active" and not user.quiet:
            roll = rng.random()
            if roll < P_LOGOUT_ACTIVE:
                return self._logout(user, now)
            if roll < P_LOGOUT_ACTIVE + P_GO_QUIET:
                user.quiet = True
                return None
            user.last_activity = now
            return self._event(user, "active", now)
        if user.state == "active":  # quiet: no activity since last_activity
            if (now - user.last_activity).total_seconds() >= self.idle_after_s:
                user.state = "idle"
                return self._event(user, "idle", now)
            if rng.random() < P_RESUME_QUIET:
                user.quiet, user.last_activity = False, now
                return self._event(user, "active", now)
            return None
        roll = rng.random()  # idle
        if roll < P_RESUME_IDLE:
            user.state, user.quiet, user.last_activity = "active", False, now
            return self._event(user, "active", now)
        if roll < P_RESUME_IDLE + P_LOGOUT_IDLE:
            return self._logout(user, now)
        return None

    def _logout(self, user: SimUser, now: datetime) -> dict:
        event = self._event(user, "logout", now)
        user.state, user.session_id = "offline", ""
        return event

    def _event(self, user: SimUser, event: str, now: datetime) -> dict:
        status = {"login": "active", "active": "active", "idle": "idle", "logout": "disconnected"}[event]
        return {
            "user_id": user.user_id,
            "username": user.username,
            "session_id": user.session_id,
            "event": event,
            "connection_status": status,
            "region": user.region,
            "site_id": user.site_id,
            "ip_address": user.ip_address,
            "login_time": _iso(user.login_time),
            "last_activity": _iso(user.last_activity),
            "timestamp": _iso(now),
        }

    def snapshots(self, *, run_id: str, sequence: int) -> list[dict]:
        """One ``users_sample.json``-shaped snapshot per site, from the population's state."""
        now = self.clock()
        by_site: dict[str, list[SimUser]] = {}
        for user in self.users:
            if user.state != "offline":
                by_site.setdefault(user.site_id, []).append(user)
        messages = []
        for region, sites in REGION_SITES.items():
            for site_id in sites:
                online = by_site.get(site_id, [])
                active = [u for u in online if u.state == "active"]
                messages.append(
                    {
                        "message_id": f"MSG-{now:%Y%m%d}-{run_id}-{sequence:06d}-{site_id}",
                        "timestamp_utc": _iso(now),
                        "site_id": site_id,
                        "metrics": {
                            "active_users": len(online),
                            "active_connections": int(len(active) * self.rng.uniform(0.8, 1.3)),
                            "server_cpu_pct": round(min(99.0, 20 + len(online) * 0.4 + self.rng.uniform(-5, 5)), 1),
                            "server_memory_gb": round(8 + len(online) * 0.08 + self.rng.uniform(0, 2), 1),
                            "average_latency_ms": round(40 + len(active) * 0.2 + self.rng.uniform(0, 30), 1),
                        },
                        "active_users_list": [
                            {
                                "user_id": u.user_id,
                                "username": u.username,
                                "session_id": u.session_id,
                                "login_time": _iso(u.login_time),
                                "ip_address": u.ip_address,
                                "region": region,
                                "connection_status": u.state,
                            }
                            for u in online[:50]
                        ],
                        "queue_metadata": {
                            "topic": "webapp/active_users",
                            "producer": "SiteSimEngine",
                            "priority": "normal",
                            "retries": 0,
                        },
                    }
                )
        return messages


def message_stream(
    population: Population,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    snapshot_interval_s: float = 5.0,
    monotonic: Callable[[], float],
) -> Iterator[Outgoing]:
    """Events, with a round of site snapshots every ``snapshot_interval_s``; stops at ``count`` or ``duration_s``."""
    run_id = uuid.uuid4().hex[:6].upper()
    started = monotonic()
    next_snapshot, sequence, sent = started, 0, 0
    while (count is None or sent < count) and (duration_s is None or monotonic() - started < duration_s):
        if snapshot_interval_s > 0 and monotonic() >= next_snapshot:
            sequence += 1
            next_snapshot += snapshot_interval_s
            for snapshot in population.snapshots(run_id=run_id, sequence=sequence):
                if count is not None and sent >= count:
                    return
                sent += 1
                yield Outgoing(json.dumps(snapshot).encode(), SNAPSHOT_TYPE)
            continue
        sent += 1
        yield Outgoing(json.dumps(population.next_event()).encode(), EVENT_TYPE)
