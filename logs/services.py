"""Log writes: streaming ingest and removal of access-log files.

``log_file_ingest`` streams a file of any size in batches. Each batch is one
transaction: its rows are COPYed into ``rag_system_log``, its hourly rollups
are upserted, and the file's registry row (``LogFile``) records how far it got.
So a crash loses at most the batch in hand and the next run resumes after the
last committed line; the same content (at any path) is never stored twice, and
a file that grew since the last run continues from where it stopped.
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from psycopg.copy import QueuedLibpqWriter

from logs.models import LogFile
from logs.parse import parse_chunk

logger = logging.getLogger(__name__)

READ_BYTES = 8 * 1024 * 1024
SUB_CHUNK_LINES = 20_000
MALFORMED_REPORT_LIMIT = 1000

LOG_COLUMNS = (
    "log_file_id, line_number, ip, timestamp, method, path, protocol, status, size, referer, user_agent, response_time_ms"
)

UPSERT_COUNTS = """
INSERT INTO rag_log_hourly_count AS t (log_file_id, hour, ip, status, requests)
SELECT %s, (h || ':00:00+00')::timestamptz, ip, status, n FROM rag_counts_staging
ON CONFLICT (log_file_id, hour, ip, status) DO UPDATE SET requests = t.requests + EXCLUDED.requests
"""
UPSERT_LATENCIES = """
INSERT INTO rag_log_hourly_latency AS t (log_file_id, hour, response_time_ms, requests)
SELECT %s, (h || ':00:00+00')::timestamptz, ms, n FROM rag_latency_staging
ON CONFLICT (log_file_id, hour, response_time_ms) DO UPDATE SET requests = t.requests + EXCLUDED.requests
"""


@dataclass
class LogIngestResult:
    path: str
    status: str = "ingested"  # ingested | unchanged | resumed | failed
    lines_read: int = 0
    stored: int = 0
    malformed: int = 0
    # (line_number, reason, excerpt) for the first MALFORMED_REPORT_LIMIT refusals.
    malformed_lines: list = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""


def _file_digests(path: Path, checkpoints: set[int]) -> tuple[str, dict]:
    """SHA-256 of the whole file, and the hash state after its first N bytes for each N in ``checkpoints``."""
    digest = hashlib.sha256()
    at: dict = {0: digest.copy()}
    offset = 0
    pending = sorted(c for c in checkpoints if c > 0)
    with path.open("rb") as handle:
        while True:
            want = READ_BYTES
            if pending and pending[0] - offset < want:
                want = pending[0] - offset
            block = handle.read(want)
            if not block:
                break
            digest.update(block)
            offset += len(block)
            while pending and pending[0] == offset:
                at[pending.pop(0)] = digest.copy()
    return digest.hexdigest(), at


def _blocks_from(path: Path, offset: int) -> Iterator[tuple[list[str], bytes]]:
    """Yield (complete lines, the raw bytes they span) from ``offset``; a final line without newline counts."""
    with path.open("rb") as handle:
        handle.seek(offset)
        rest = b""
        while True:
            block = handle.read(READ_BYTES)
            if not block:
                break
            block = rest + block
            cut = block.rfind(b"\n")
            if cut < 0:
                rest = block
                continue
            rest = block[cut + 1 :]
            raw = block[: cut + 1]
            lines = raw.decode("utf-8", errors="replace").split("\n")
            lines.pop()  # the empty string after the last newline
            yield [line[:-1] if line.endswith("\r") else line for line in lines], raw
        if rest:
            line = rest.decode("utf-8", errors="replace")
            yield [line[:-1] if line.endswith("\r") else line], rest


def _find_start(path: Path):
    """Where ingest starts: (registry row to continue or None, hash state at its end, full digest, status)."""
    resolved = str(path.resolve())
    size = path.stat().st_size
    candidates = [c for c in LogFile.objects.filter(path=resolved).order_by("-size_bytes") if c.size_bytes <= size]
    full, states = _file_digests(path, {c.size_bytes for c in candidates})
    existing = LogFile.objects.filter(sha256=full, complete=True).first()
    if existing is not None:
        return existing, None, full, "unchanged"
    for candidate in candidates:
        state = states.get(candidate.size_bytes)
        # The file grew, or an earlier run stopped early: what was stored is a prefix of it.
        if candidate.size_bytes == 0 or (state is not None and state.hexdigest() == candidate.sha256):
            return candidate, state, full, "resumed"
    return None, hashlib.sha256(), full, "ingested"


def log_file_ingest(*, path: Path, batch_lines: int = 200_000, progress: Callable[[int], None] | None = None) -> LogIngestResult:
    """Ingest one access-log file; never raises for bad lines (they are counted and listed)."""
    started = time.perf_counter()
    path = Path(path)
    result = LogIngestResult(path=str(path))
    # One ingest per file at a time (two runs on one file would race for the same lines).
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"logs.ingest_logs:{path.resolve()}"])
    try:
        return _ingest_locked(path=path, result=result, started=started, batch_lines=batch_lines, progress=progress)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"logs.ingest_logs:{path.resolve()}"])


def _ingest_locked(*, path: Path, result: LogIngestResult, started: float, batch_lines: int, progress) -> LogIngestResult:
    try:
        log_file, state, full_digest, result.status = _find_start(path)
    except OSError as exc:
        result.status, result.error = "failed", f"cannot read: {exc}"
        return result
    if result.status == "unchanged":
        result.seconds = time.perf_counter() - started
        return result
    if log_file is None:
        # A placeholder digest until the first batch commits (the digest column is unique).
        log_file = LogFile.objects.create(path=str(path.resolve()), sha256=f"new:{uuid.uuid4().hex}")
    line_number = log_file.lines_read
    offset = log_file.size_bytes
    pending_lines: list[str] = []
    pending_raw: list[bytes] = []

    def flush() -> None:
        nonlocal line_number, offset, pending_lines, pending_raw
        for raw in pending_raw:
            state.update(raw)
            offset += len(raw)
        stored, malformed = _ingest_batch(
            log_file_id=log_file.pk, lines=pending_lines, first_line=line_number + 1, size_bytes=offset, sha256=state.hexdigest()
        )
        line_number += len(pending_lines)
        result.lines_read += len(pending_lines)
        result.stored += stored
        result.malformed += len(malformed)
        room = MALFORMED_REPORT_LIMIT - len(result.malformed_lines)
        if room > 0:
            result.malformed_lines.extend(malformed[:room])
        pending_lines, pending_raw = [], []
        if progress is not None:
            progress(offset)

    try:
        for lines, raw in _blocks_from(path, offset):
            pending_lines.extend(lines)
            pending_raw.append(raw)
            # Batches end on read-block boundaries so the stored digest always covers whole lines.
            if len(pending_lines) >= batch_lines:
                flush()
        if pending_lines:
            flush()
    except OSError as exc:
        result.status, result.error = "failed", f"read error: {exc}"
        return result
    if state.hexdigest() != full_digest:
        # The file changed while we read it; what was stored is consistent, the rest waits for the next run.
        logger.warning("%s changed during ingest; run ingest_logs again to pick up the rest", path)
    else:
        LogFile.objects.filter(pk=log_file.pk).update(complete=True)
    with connection.cursor() as cursor:
        # Fresh statistics so the planner uses the rollups and the BRIN index well.
        cursor.execute("ANALYZE rag_system_log, rag_log_hourly_count, rag_log_hourly_latency")
    result.seconds = time.perf_counter() - started
    logger.info(
        "ingested %s: %d lines, %d stored, %d malformed in %.1fs",
        path,
        result.lines_read,
        result.stored,
        result.malformed,
        result.seconds,
    )
    return result


def _ingest_batch(*, log_file_id: int, lines: list[str], first_line: int, size_bytes: int, sha256: str) -> tuple[int, list]:
    """COPY one batch, upsert its rollups and advance the registry, in one transaction."""
    stored = 0
    malformed: list = []
    counts: dict = {}
    latencies: dict = {}
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        # A writer thread sends each sub-chunk while the next one is parsed.
        with raw.copy(f"COPY rag_system_log ({LOG_COLUMNS}) FROM STDIN", writer=QueuedLibpqWriter(raw)) as copy:
            for start in range(0, len(lines), SUB_CHUNK_LINES):
                chunk = parse_chunk(lines[start : start + SUB_CHUNK_LINES], first_line + start, log_file_id)
                if chunk.copy_text:
                    copy.write(chunk.copy_text)
                stored += chunk.stored
                malformed.extend(chunk.malformed)
                for key, n in chunk.counts.items():
                    counts[key] = counts.get(key, 0) + n
                for key, n in chunk.latencies.items():
                    latencies[key] = latencies.get(key, 0) + n
        _upsert_rollups(raw, log_file_id, counts, latencies)
        raw.execute(
            "UPDATE rag_log_file SET lines_read = lines_read + %s, lines_stored = lines_stored + %s,"
            " malformed = malformed + %s, size_bytes = %s, sha256 = %s, updated_at = now() WHERE id = %s",
            [len(lines), stored, len(malformed), size_bytes, sha256, log_file_id],
        )
    return stored, malformed


def _upsert_rollups(raw, log_file_id: int, counts: dict, latencies: dict) -> None:
    raw.execute(
        "CREATE TEMP TABLE IF NOT EXISTS rag_counts_staging (h text, ip text, status smallint, n bigint) ON COMMIT DELETE ROWS"
    )
    raw.execute("CREATE TEMP TABLE IF NOT EXISTS rag_latency_staging (h text, ms integer, n bigint) ON COMMIT DELETE ROWS")
    with raw.copy("COPY rag_counts_staging (h, ip, status, n) FROM STDIN") as copy:
        copy.write("".join(f"{h}\t{ip}\t{status}\t{n}\n" for (h, ip, status), n in counts.items()))
    with raw.copy("COPY rag_latency_staging (h, ms, n) FROM STDIN") as copy:
        copy.write("".join(f"{h}\t{ms}\t{n}\n" for (h, ms), n in latencies.items()))
    raw.execute(UPSERT_COUNTS, [log_file_id])
    raw.execute(UPSERT_LATENCIES, [log_file_id])


def log_file_delete(*, log_file_id: int) -> None:
    """Remove a log file's rows, rollups and registry entry (set-based, no per-row ORM)."""
    with transaction.atomic(), connection.cursor() as cursor:
        for table in ("rag_system_log", "rag_log_hourly_count", "rag_log_hourly_latency"):
            cursor.execute(f"DELETE FROM {table} WHERE log_file_id = %s", [log_file_id])  # noqa: S608 - fixed names
        cursor.execute("DELETE FROM rag_log_file WHERE id = %s", [log_file_id])
