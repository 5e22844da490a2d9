"""Telemetry writes: batch ingest, dead letters, partitions, cache versions.

``readings_ingest`` is the one way telemetry enters the database: a batch of
raw MQTT messages is validated, good readings are COPYed into a staging table
and moved into the partitioned history with ``ON CONFLICT DO NOTHING`` on the
natural key (so redelivery never duplicates), the latest state per device is
upserted (never overwritten by an older reading), and refused messages land in
dead letters, all in one transaction.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from telemetry.device_types import NOTABLE_STATES
from telemetry.drift import schema_seen_record
from telemetry.models import DeadLetter
from telemetry.validation import InvalidMessage, ValidReading, validate_message
from tier0site.batches import excerpt, store_isolating
from tier0site.worker_status import run_in_store

logger = logging.getLogger(__name__)

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (ts timestamptz NOT NULL, p jsonb NOT NULL)
ON COMMIT DELETE ROWS
"""

INSERT_READINGS = """
WITH inserted AS (
    INSERT INTO telemetry_reading
        (device_id, device_type, site_id, timestamp_utc, firmware, metrics, status, location, tags)
    SELECT p->>'device_id', p->>'device_type', p->>'site_id', ts, coalesce(p->>'firmware', ''),
           p->'metrics', p->'status', p->'location', p->'tags'
    FROM telemetry_staging
    ON CONFLICT (device_id, timestamp_utc) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM inserted
"""

# The newest reading of each device in the batch replaces the stored state only
# when it is newer, so an old reading redelivered late never rolls a device back;
# any message, old or new, marks the device seen (and online again).
UPSERT_STATES = """
INSERT INTO telemetry_device_state AS s
    (device_id, device_type, site_id, state, timestamp_utc, firmware, metrics, status, location, tags, updated_at,
     last_seen, offline_since)
SELECT DISTINCT ON (p->>'device_id')
       p->>'device_id', p->>'device_type', p->>'site_id', p->'status'->>'state', ts,
       coalesce(p->>'firmware', ''), p->'metrics', p->'status', p->'location', p->'tags', clock_timestamp(),
       clock_timestamp(), NULL
FROM telemetry_staging
ORDER BY p->>'device_id', ts DESC
ON CONFLICT (device_id) DO UPDATE SET
    last_seen = EXCLUDED.last_seen, offline_since = NULL,
    device_type = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.device_type ELSE s.device_type END,
    site_id = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.site_id ELSE s.site_id END,
    state = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.state ELSE s.state END,
    timestamp_utc = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.timestamp_utc ELSE s.timestamp_utc END,
    firmware = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.firmware ELSE s.firmware END,
    metrics = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.metrics ELSE s.metrics END,
    status = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.status ELSE s.status END,
    location = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.location ELSE s.location END,
    tags = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.tags ELSE s.tags END,
    updated_at = CASE WHEN s.timestamp_utc < EXCLUDED.timestamp_utc THEN EXCLUDED.updated_at ELSE s.updated_at END
"""


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    payload: bytes


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    # (site_id, device_type) groups whose devices changed: for cache and live updates.
    groups: set = field(default_factory=set)
    # The newest WARN/ALERT reading per device in the batch.
    alerts: dict = field(default_factory=dict)
    # Every reading stored or already stored (ValidReading), for in-store hooks (alarm rules).
    readings: list = field(default_factory=list)
    # What in-store hooks (run in the batch's transaction) made of it, by hook: "alarms" -> the evaluation.
    hooks: dict = field(default_factory=dict)


def _copy_escape(raw: bytes) -> bytes:
    """Escape a JSON document for COPY's text format (one row per line)."""
    return raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t")


def reading_parse(message: RawMessage) -> ValidReading:
    """Validate one raw message (raises ``InvalidMessage`` with the reason, and nothing else)."""
    return validate_message(message.topic, message.payload, prefix=settings.MQTT_TOPIC_PREFIX)


def _validate(messages: Iterable[RawMessage]) -> tuple[list, list]:
    valid, rejected = [], []
    for message in messages:
        try:
            valid.append((message, reading_parse(message)))
        except InvalidMessage as exc:
            rejected.append((message, str(exc)))
        except Exception as exc:  # a validator bug must cost one message, never the pipeline
            logger.exception("validator raised an unexpected error; message dead-lettered")
            rejected.append((message, f"unreadable: {type(exc).__name__}: {str(exc)[:300]}"))
    return valid, rejected


def _dead_letter(message: RawMessage, reason: str) -> DeadLetter:
    kept = excerpt(message.payload)
    return DeadLetter(
        source="mqtt",
        topic=_as_text(message.topic)[:512],
        payload=_as_text(kept.head),
        payload_size=kept.size,
        payload_sha256=kept.sha256,
        reason=reason[:2000],
    )


def _as_text(raw: bytes | str) -> str:
    if isinstance(raw, str):  # a topic
        raw = raw.encode("utf-8", errors="backslashreplace")
    return raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def _write_valid(valid: list[tuple[RawMessage, ValidReading]]) -> int:
    """COPY the readings in, move them to history, upsert states; return rows stored."""
    # wrap_database_errors: COPY goes to psycopg directly; errors become Django's.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(STAGING_DDL)
        with cursor.copy("COPY telemetry_staging (ts, p) FROM STDIN") as copy:
            copy.write(
                b"".join(
                    reading.timestamp.isoformat().encode() + b"\t" + _copy_escape(reading.document) + b"\n"
                    for message, reading in valid
                )
            )
        cursor.execute(INSERT_READINGS)
        stored = cursor.fetchone()[0]
        cursor.execute(UPSERT_STATES)
    return stored


def readings_ingest(*, messages: Iterable[RawMessage], refused: Iterable[tuple[RawMessage, str]] = ()) -> IngestResult:
    """Validate and store a batch of raw MQTT messages in one transaction (see module doc).

    ``refused`` are messages already refused upstream (too large, poison), stored as dead letters with the rest.
    """
    valid, rejected = _validate(messages)
    return readings_store(valid=valid, rejected=[*refused, *rejected])


def readings_store(*, valid: list[tuple[RawMessage, ValidReading]], rejected: list[tuple[RawMessage, str]]) -> IngestResult:
    """Store validated readings, and the refused messages as dead letters, in one transaction.

    Raises ``DatabaseError`` when the database is unavailable: nothing is then
    committed and the caller keeps the batch (unacknowledged) to retry.
    """
    result = IngestResult(received=len(valid) + len(rejected))
    dead = [_dead_letter(message, reason) for message, reason in rejected]
    accepted = valid
    with transaction.atomic():
        if valid:
            # A row PostgreSQL refuses becomes a dead letter instead of blocking the batch.
            counts, refused = store_isolating(valid, _write_valid, reason_prefix="database: ")
            result.stored = sum(counts)
            if refused:
                refused_ids = {id(item) for item, _reason in refused}
                accepted = [item for item in valid if id(item) not in refused_ids]
                dead.extend(_dead_letter(message, reason) for (message, _reading), reason in refused)
            schema_seen_record(readings=[reading for _message, reading in accepted])
        if dead:
            DeadLetter.objects.bulk_create(dead)
        result.dead_lettered = len(dead)
        result.duplicates = len(accepted) - result.stored
        result.readings = [reading for _message, reading in accepted]
        for _message, reading in accepted:
            result.groups.add((reading.site_id, reading.device_type))
            if reading.state in NOTABLE_STATES:
                result.alerts[reading.device_id] = reading
        if result.readings:
            # Alarm rules: evaluated in this transaction, so an acknowledged batch was always evaluated.
            run_in_store("telemetry", result)
    return result


# --- Cache versions -----------------------------------------------------------
# A cached device list is keyed by a version of the groups it covers; ingest
# bumps the versions of the groups it changed, so the next read misses and
# refreshes. Four versions per group cover every filter combination.


def device_cache_version_key(site_id: str | None, device_type: str | None) -> str:
    return f"devices:ver:{site_id or 'all'}:{device_type or 'all'}"


def device_cache_bump(*, groups: Iterable[tuple[str, str]]) -> None:
    keys = set()
    for site_id, device_type in groups:
        keys.update(device_cache_version_key(s, t) for s in (site_id, None) for t in (device_type, None))
    for key in keys:
        cache.incr(key, ignore_key_check=True)


# --- Partitions -----------------------------------------------------------------


def _partition_name(day: date) -> str:
    return f"telemetry_reading_{day:%Y%m%d}"


PARTITIONS_LOCK = 0x7431_7061_7274  # pg_advisory_xact_lock key: creating telemetry partitions


def partitions_ensure(*, today: date | None = None, ahead_days: int | None = None) -> list[str]:
    """Create daily partitions from today through ``ahead_days``; return the new ones.

    Rows already caught by the default partition for such a day are moved into
    the new partition, so creating one never fails and never loses a reading.
    """
    today = today or timezone.now().date()
    ahead_days = settings.TELEMETRY_PARTITIONS_AHEAD_DAYS if ahead_days is None else ahead_days
    created = []
    for offset in range(ahead_days + 1):
        day = today + timedelta(days=offset)
        name = _partition_name(day)
        if _table_exists(name):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            # Consumers starting together would race to create the same partition: one at a time.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITIONS_LOCK])
            if _table_exists(name):
                continue
            low, high = day.isoformat(), (day + timedelta(days=1)).isoformat()
            cursor.execute(f"CREATE TABLE {name} (LIKE telemetry_reading INCLUDING DEFAULTS)")
            cursor.execute(
                f"WITH moved AS (DELETE FROM telemetry_reading_default "  # noqa: S608 - the partition name is built from a date by _partition_name
                f"WHERE timestamp_utc >= %s AND timestamp_utc < %s RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved",
                [low, high],
            )
            cursor.execute(f"ALTER TABLE telemetry_reading ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [low, high])
        created.append(name)
    return created


def partitions_drop_expired(*, today: date | None = None, retention_days: int | None = None) -> list[str]:
    """Drop daily partitions whose whole day is older than the retention."""
    today = today or timezone.now().date()
    retention_days = settings.TELEMETRY_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = today - timedelta(days=retention_days)
    dropped = []
    for name in partition_names():
        if date(int(name[-8:-4]), int(name[-4:-2]), int(name[-2:])) < cutoff:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped


def partition_names() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry_reading' "
            "AND c.relname ~ '^telemetry_reading_[0-9]{8}$' ORDER BY c.relname"
        )
        return [row[0] for row in cursor.fetchall()]


def _table_exists(name: str) -> bool:
    # pg_class read with the statement's snapshot: to_regclass goes through the catalog cache,
    # which may not yet show a table another session just committed (seen here under the lock).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = %s AND n.nspname = current_schema())",
            [name],
        )
        return cursor.fetchone()[0]
