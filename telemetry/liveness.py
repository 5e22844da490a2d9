"""Device liveness: which devices are online, and the moment one falls silent.

A device is online while its last message arrived (``last_seen``, the time the
consumer stored it, not the device's own clock) within ``DEVICE_OFFLINE_AFTER_S``.
Reads compute ``online`` from ``last_seen``; the transition to offline is
recorded once, by ``devices_mark_offline`` setting ``offline_since``, which the
``monitor_devices`` loop calls every few seconds and ingest clears when the
device speaks again. Alarm rules on silence build on this one function.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from telemetry.services import device_cache_bump

logger = logging.getLogger(__name__)

MARK_OFFLINE = """
UPDATE telemetry_device_state SET offline_since = last_seen + %s
WHERE offline_since IS NULL AND last_seen < %s
RETURNING device_id, site_id, device_type, last_seen
"""

# Sites among those just touched with no device seen since the cutoff: the whole site is silent.
SILENT_SITES = """
SELECT site_id FROM telemetry_device_state WHERE site_id = ANY(%s)
GROUP BY site_id HAVING max(last_seen) < %s ORDER BY site_id
"""


def offline_after() -> timedelta:
    return timedelta(seconds=settings.DEVICE_OFFLINE_AFTER_S)


def online_cutoff(now: datetime | None = None) -> datetime:
    """Devices last seen before this moment are offline."""
    return (now or timezone.now()) - offline_after()


def is_online(last_seen: datetime | str | None, *, cutoff: datetime) -> bool:
    if isinstance(last_seen, str):
        last_seen = datetime.fromisoformat(last_seen)
    return last_seen is not None and last_seen >= cutoff


@dataclass
class OfflineTransitions:
    # Devices that fell silent since the last call: device_id, site_id, device_type, last_seen.
    devices: list[dict] = field(default_factory=list)
    # Sites whose every device is now silent (reported once, when the last one falls silent).
    sites: list[str] = field(default_factory=list)


# Called with each round's transitions inside its transaction (alarm rules on silence):
# what they write commits with the offline marks, or not at all.
_ON_OFFLINE: list = []


def register_on_offline(fn) -> None:
    if fn not in _ON_OFFLINE:
        _ON_OFFLINE.append(fn)


@transaction.atomic
def devices_mark_offline(*, now: datetime | None = None) -> OfflineTransitions:
    """Record each device that went silent, once, and return the transitions."""
    cutoff = online_cutoff(now)
    with connection.cursor() as cursor:
        cursor.execute(MARK_OFFLINE, [offline_after(), cutoff])
        columns = [c.name for c in cursor.description]
        devices = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        sites = []
        if devices:
            cursor.execute(SILENT_SITES, [sorted({d["site_id"] for d in devices}), cutoff])
            sites = [row[0] for row in cursor.fetchall()]
    if devices:
        # Cached device pages and site counts carry the online state: refresh them.
        device_cache_bump(groups={(d["site_id"], d["device_type"]) for d in devices})
    devices.sort(key=lambda d: d["device_id"])
    transitions = OfflineTransitions(devices=devices, sites=sites)
    if devices:
        for fn in _ON_OFFLINE:
            try:
                with transaction.atomic():  # a savepoint: a failing hook never blocks liveness
                    fn(transitions)
            except Exception:
                logger.exception("offline hook failed", extra={"hook": getattr(fn, "__qualname__", repr(fn))})
    return transitions


def liveness_event(transitions: OfflineTransitions, *, limit: int = 50) -> dict:
    """The fields of the dashboard's live event for a round of transitions (the first ``limit`` devices named).

    It goes out as a ``telemetry.update`` (``tier0site.live.TELEMETRY``, the event
    the page follows for alerts too) with a ``liveness`` part and no message counts.
    """
    return {
        "liveness": {
            "offline_count": len(transitions.devices),
            "offline": [
                {**{k: d[k] for k in ("device_id", "site_id", "device_type")}, "last_seen": d["last_seen"].isoformat()}
                for d in transitions.devices[:limit]
            ],
            "silent_sites": transitions.sites,
        },
    }
