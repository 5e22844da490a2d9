"""Access-log line parsing: the seed's format and Apache common/combined.

Seed format (Apache combined plus a trailing response time in milliseconds)::

    IP - - [dd/Mon/yyyy:HH:MM:SS +zone] "METHOD /path HTTP/x" STATUS SIZE "REFERER" "AGENT" RESPONSE_TIME

Apache common stops after SIZE, combined after AGENT. ``parse_line`` returns a
``LogRecord`` or raises ``MalformedLine`` with the reason. Timestamps are
normalised to UTC text that PostgreSQL reads directly; a small cache keyed by
the raw timestamp keeps that cheap, since consecutive lines share seconds.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LINE_RE = re.compile(
    r'(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
    r"(?: (\d+(?:\.\d+)?)(?:ms)?)?\s*"
)
# The common case (no backslash escapes in quoted fields) uses a regex without
# per-character alternation: about four times faster on the ingest hot path.
FAST_LINE_RE = re.compile(
    r'([0-9A-Za-z.:-]{2,45}) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-)'
    r'(?: "([^"]*)" "([^"]*)")?'
    r"(?: (\d+(?:\.\d+)?)(?:ms)?)?\s*"
)
IP_RE = re.compile(r"[0-9A-Fa-f.:]{2,45}|[A-Za-z0-9.-]{1,64}")


class MalformedLine(ValueError):
    """A line that is not an access-log line; the message says why."""


@dataclass(slots=True)
class LogRecord:
    ip: str
    timestamp: str  # "YYYY-MM-DD HH:MM:SS+00" in UTC
    method: str
    path: str
    protocol: str
    status: int
    size: int | None
    referer: str
    user_agent: str
    response_time_ms: int | None


_ts_cache: dict[str, str] = {}


MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def normalise_timestamp(raw: str) -> str:
    """``10/Oct/2024:13:55:36 -0700`` -> ``2024-10-10 20:55:36+00`` (UTC).

    Sliced by hand (``strptime`` costs more than the rest of a line's parse);
    the ``datetime`` constructor still validates every field.
    """
    hit = _ts_cache.get(raw)
    if hit is not None:
        return hit
    try:
        if len(raw) != 26 or raw[2] != "/" or raw[6] != "/" or raw[11] != ":" or raw[20] != " ":
            raise ValueError("layout")
        sign = raw[21]
        if sign not in "+-" or not raw[22:26].isdigit():
            raise ValueError("zone")
        moment = datetime(
            int(raw[7:11]),
            MONTHS[raw[3:6]],
            int(raw[0:2]),
            int(raw[12:14]),
            int(raw[15:17]),
            int(raw[18:20]),
            tzinfo=UTC,
        )
        offset_min = int(raw[22:24]) * 60 + int(raw[24:26])
        if offset_min:
            moment -= timedelta(minutes=offset_min if sign == "+" else -offset_min)
    except (ValueError, KeyError) as exc:
        raise MalformedLine(f"bad timestamp {raw[:40]!r}") from exc
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}+00"
    if len(_ts_cache) > 200_000:
        _ts_cache.clear()
    _ts_cache[raw] = text
    return text


def parse_line(line: str) -> LogRecord:
    match = LINE_RE.fullmatch(line)
    if match is None:
        raise MalformedLine("not an access-log line")
    ip, raw_ts, request, status, size, referer, agent, rt = match.groups()
    if IP_RE.fullmatch(ip) is None:
        raise MalformedLine(f"bad client address {ip[:64]!r}")
    parts = request.split(" ")
    if len(parts) == 3:
        method, path, protocol = parts
    elif request == "-" or request == "":
        method = path = protocol = ""
    elif len(parts) == 2:  # HTTP/0.9 style request without a protocol
        method, path = parts
        protocol = ""
    else:
        raise MalformedLine("bad request field")
    if len(method) > 16 or len(protocol) > 16:
        raise MalformedLine("bad request field")
    return LogRecord(
        ip=ip,
        timestamp=normalise_timestamp(raw_ts),
        method=method,
        path=path,
        protocol=protocol,
        status=int(status),
        size=None if size == "-" else int(size),
        referer="" if referer in (None, "-") else referer,
        user_agent="" if agent in (None, "-") else agent,
        response_time_ms=None if rt is None else round(float(rt)),
    )


NULL = "\\N"


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")


@dataclass
class ParsedChunk:
    """A batch ready for COPY: rows as COPY text, rollup counters, refusals."""

    copy_text: str
    stored: int
    counts: dict  # (hour, ip, status) -> requests
    latencies: dict  # (hour, response_time_ms) -> requests
    malformed: list  # (line_number, reason, excerpt)


def parse_chunk(lines: list[str], first_line_number: int, log_file_id: int) -> ParsedChunk:
    """Parse consecutive lines into COPY rows for ``rag_system_log``.

    This is the hot loop of ``ingest_logs`` (about 100k lines a second), so it
    inlines ``parse_line`` rather than building a record per line.
    """
    fast = FAST_LINE_RE.fullmatch
    slow = LINE_RE.fullmatch
    ip_ok = IP_RE.fullmatch
    cache = _ts_cache
    counts: dict = {}
    latencies: dict = {}
    malformed: list = []
    out: list[str] = []
    append = out.append
    file_id = str(log_file_id)
    number = first_line_number - 1
    for line in lines:
        number += 1
        escaped = "\\" in line
        match = slow(line) if escaped else fast(line)
        if match is None:
            if line.strip():
                malformed.append((number, "not an access-log line", line[:200]))
            else:
                malformed.append((number, "empty line", ""))
            continue
        ip, raw_ts, request, status, size, referer, agent, rt = match.groups()
        ts = cache.get(raw_ts)
        if ts is None:
            try:
                ts = normalise_timestamp(raw_ts)
            except MalformedLine as exc:
                malformed.append((number, str(exc), line[:200]))
                continue
        parts = request.split(" ")
        if len(parts) == 3:
            method, path, protocol = parts
        elif request == "-" or request == "":
            method = path = protocol = ""
        elif len(parts) == 2:
            method, path = parts
            protocol = ""
        else:
            malformed.append((number, "bad request field", line[:200]))
            continue
        if len(method) > 16 or len(protocol) > 16 or (escaped and ip_ok(ip) is None):
            malformed.append((number, "bad client address or request", line[:200]))
            continue
        if referer is None or referer == "-":
            referer = ""
        if agent is None or agent == "-":
            agent = ""
        if escaped or "\t" in line:
            path, referer, agent = _copy_text(path), _copy_text(referer), _copy_text(agent)
        if rt is None:
            rt_text = NULL
        else:
            rt_text = str(round(float(rt))) if "." in rt else rt
            key = (ts[:13], rt_text)
            latencies[key] = latencies.get(key, 0) + 1
        key = (ts[:13], ip, status)
        counts[key] = counts.get(key, 0) + 1
        append(
            f"{file_id}\t{number}\t{ip}\t{ts}\t{method}\t{path}\t{protocol}\t{status}\t"
            f"{NULL if size == '-' else size}\t{referer}\t{agent}\t{rt_text}\n"
        )
    return ParsedChunk("".join(out), len(out), counts, latencies, malformed)
