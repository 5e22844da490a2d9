"""Schema drift per device type: what devices send against what their type lists.

``schema_seen_record`` runs inside the ingest transaction: the readings of a
batch are aggregated in Python and written with one upsert (metric names and
states per device type, with counts and first/last seen). ``device_type_drift``
reads it back for ``GET /api/device-types`` and the admin: metric names a type
does not list, listed metrics that stopped arriving, states that are not known.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection

from telemetry.device_types import ALL_STATES, DEVICE_TYPES
from telemetry.models import SchemaSeen
from telemetry.validation import ValidReading

# Rows are locked in key order, so two consumers upserting at once cannot deadlock.
UPSERT_SEEN = """
INSERT INTO telemetry_schema_seen AS s (device_type, kind, name, count, first_seen, last_seen)
SELECT t, k, n, c, now(), now()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]) AS u(t, k, n, c)
ORDER BY t, k, n
ON CONFLICT (device_type, kind, name) DO UPDATE SET count = s.count + EXCLUDED.count, last_seen = EXCLUDED.last_seen
"""


def _aggregate(readings: Iterable[ValidReading]) -> Counter:
    """(device_type, kind, name) -> count; metric sets are grouped first (a fleet sends few)."""
    metric_sets: Counter = Counter()
    seen: Counter = Counter()
    for reading in readings:
        metric_sets[reading.device_type, tuple(reading.payload["metrics"])] += 1
        seen[reading.device_type, SchemaSeen.KIND_STATE, reading.state] += 1
        if reading.reported_state is not None:
            seen[reading.device_type, SchemaSeen.KIND_UNKNOWN_STATE, reading.reported_state] += 1
    for (device_type, names), count in metric_sets.items():
        for name in names:
            seen[device_type, SchemaSeen.KIND_METRIC, name] += count
    return seen


def schema_seen_record(*, readings: Iterable[ValidReading]) -> None:
    """Add a stored batch's metric names and states to the drift counts (one statement)."""
    seen = _aggregate(readings)
    if not seen:
        return
    keys = sorted(seen)
    with connection.cursor() as cursor:
        cursor.execute(
            UPSERT_SEEN,
            [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [seen[k] for k in keys]],
        )


def _entry(row: SchemaSeen) -> dict:
    return {"name": row.name, "count": row.count, "first_seen": row.first_seen, "last_seen": row.last_seen}


def _type_report(device_type: str, rows: list[SchemaSeen], stale: timedelta) -> dict:
    listed = DEVICE_TYPES[device_type].metric_names if device_type in DEVICE_TYPES else frozenset()
    by_kind: dict[str, dict[str, SchemaSeen]] = {kind: {} for kind in ("metric", "state", "unknown_state")}
    for row in rows:
        by_kind.setdefault(row.kind, {})[row.name] = row
    states = by_kind[SchemaSeen.KIND_STATE]
    metrics = by_kind[SchemaSeen.KIND_METRIC]
    last_seen = max((row.last_seen for row in states.values()), default=None)
    return {
        "device_type": device_type,
        "known": device_type in DEVICE_TYPES,
        "readings": sum(row.count for row in states.values()),
        "first_seen": min((row.first_seen for row in states.values()), default=None),
        "last_seen": last_seen,
        "states": {state: states[state].count if state in states else 0 for state in ALL_STATES},
        "listed_metrics": sorted(listed),
        "new_metrics": [_entry(row) for name, row in sorted(metrics.items()) if name not in listed],
        # Listed metrics never sent, or not sent for ``stale`` before the type's last reading.
        "missing_metrics": [
            {"name": name, "count": 0, "first_seen": None, "last_seen": None} if name not in metrics else _entry(metrics[name])
            for name in sorted(listed)
            if last_seen is not None and (name not in metrics or metrics[name].last_seen < last_seen - stale)
        ],
        "unknown_states": [_entry(row) for _name, row in sorted(by_kind[SchemaSeen.KIND_UNKNOWN_STATE].items())],
    }


def device_type_drift() -> list[dict]:
    """Every device type known or seen, with its drift (see module doc)."""
    rows: dict[str, list[SchemaSeen]] = {name: [] for name in DEVICE_TYPES}
    for row in SchemaSeen.objects.order_by("device_type", "kind", "name"):
        rows.setdefault(row.device_type, []).append(row)
    stale = timedelta(seconds=settings.TELEMETRY_DRIFT_STALE_S)
    return [_type_report(device_type, type_rows, stale) for device_type, type_rows in sorted(rows.items())]
