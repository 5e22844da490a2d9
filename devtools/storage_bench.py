"""What a stored reading costs in bytes and in the storage service's CPU: the capacity plan's inputs.

In a throwaway database (``BenchDatabase``), a simulated fleet's readings go through the
consumer's own storage service (``telemetry.services.readings_ingest``: validation, COPY into
staging, history insert, latest-state upsert, drift) in batches of the consumer's size, with no
broker in between. Then it reads:

- bytes per history row with its indexes (all daily partitions), and the heap alone;
- bytes per device of the latest-state table, compacted (each round upserts every device, so
  before VACUUM FULL the table also holds the dead versions: the uncompacted figure is printed too);
- WAL bytes per message (the whole cluster's WAL position, so other databases' writes count:
  an upper bound on a shared machine);
- the Python CPU of the storage service per message (process time; PostgreSQL's work is not in it);
- Redis bytes of one cached device-list page of 100 (``MEMORY USAGE``), the unit of the cache's size;
- how far gzip shrinks the history rows' COPY text: a proxy for a compressing engine's gain
  (the simulator's readings are more regular than a real fleet's, so it flatters).
"""

import gzip
import json
import time
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection

from devtools.device_simulator import Fleet
from telemetry.selectors import device_page
from telemetry.services import RawMessage, partitions_ensure, readings_ingest

COLUMNS = "device_id, device_type, site_id, timestamp_utc, firmware, metrics, status, location, tags"


def _messages(devices: int, rounds: int) -> list[RawMessage]:
    fleet = Fleet(devices=devices, seed=7)
    start = datetime.now(UTC) - timedelta(minutes=rounds)
    messages = []
    for round_ in range(rounds):
        for device in fleet.devices:
            doc = fleet.reading(device, start + timedelta(seconds=10 * round_))
            topic = f"og/field/{doc['site_id']}/{doc['device_type']}/{doc['device_id']}"
            messages.append(RawMessage(topic=topic, payload=json.dumps(doc, separators=(",", ":")).encode()))
    return messages


def _one(cursor, sql: str, params=None):
    cursor.execute(sql, params)
    return cursor.fetchone()


def _copy_text_bytes(cursor) -> bytes:
    buffer = bytearray()
    with cursor.copy(f"COPY (SELECT {COLUMNS} FROM telemetry_reading) TO STDOUT") as copy:  # noqa: S608 - a constant column list
        for chunk in copy:
            buffer += chunk
    return bytes(buffer)


def _redis_page_bytes() -> int | None:
    device_page(page=1, page_size=100)
    client = cache.client.get_client()
    keys = list(client.scan_iter(match=f"{cache.key_prefix}*devices*"))
    sizes = [client.memory_usage(key) or 0 for key in keys]
    for key in keys:
        client.delete(key)
    return max(sizes, default=None)


def storage_benchmark(*, devices: int, rounds: int, batch: int) -> dict:
    """Run in the benchmark's own database (the command starts it there)."""
    partitions_ensure()
    messages = _messages(devices, rounds)
    with connection.cursor() as cursor:
        wal_start = _one(cursor, "SELECT pg_current_wal_lsn()")[0]
        wall, cpu = time.perf_counter(), time.process_time()
        for offset in range(0, len(messages), batch):
            readings_ingest(messages=messages[offset : offset + batch])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        wal = float(_one(cursor, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [wal_start])[0])
        rows = _one(cursor, "SELECT count(*) FROM telemetry_reading")[0]
        total, heap = _one(
            cursor,
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0), coalesce(sum(pg_relation_size(c.oid)), 0) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry_reading'::regclass",
        )
        state_rows, state_bloated = _one(
            cursor, "SELECT count(*), pg_total_relation_size('telemetry_device_state') FROM telemetry_device_state"
        )
        cursor.execute("VACUUM FULL telemetry_device_state")
        state_compact = _one(cursor, "SELECT pg_total_relation_size('telemetry_device_state')")[0]
        text = _copy_text_bytes(cursor)
    return {
        "messages": len(messages),
        "devices": devices,
        "rows": rows,
        "payload_bytes_avg": round(sum(len(m.payload) for m in messages) / len(messages)),
        "history_bytes_per_row": round(total / rows),
        "history_heap_bytes_per_row": round(heap / rows),
        "state_bytes_per_device": round(state_compact / state_rows),
        "state_bytes_per_device_before_vacuum": round(state_bloated / state_rows),
        "wal_bytes_per_message_upper_bound": round(wal / len(messages)),
        "service_cpu_ms_per_message": round(cpu * 1000 / len(messages), 3),
        "service_msgs_per_s": round(len(messages) / wall),
        "batch": batch,
        "redis_device_page_100_bytes": _redis_page_bytes(),
        "gzip_ratio_of_rows": round(len(text) / len(gzip.compress(text, compresslevel=6)), 1),
        "measured": (
            "simulated readings -> telemetry.services.readings_ingest (the consumer's storage path, no broker) -> "
            "PostgreSQL; sizes from pg_total_relation_size, WAL from the cluster's LSN (upper bound), Redis MEMORY USAGE"
        ),
    }
