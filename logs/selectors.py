"""Log reads: exact log aggregates and log listings.

Every aggregate is exact. Whole UTC hours inside a window are read from the
hourly rollups written at ingest; the partial hours at the window's edges are
read from the raw rows (BRIN index on timestamp). Each function returns the
SQL it ran so an answer can cite its query.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from logs.models import SystemLog


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; either side may be open."""

    start: datetime | None = None
    end: datetime | None = None
    label: str = "all time"

    def describe(self) -> str:
        return self.label


@dataclass(frozen=True)
class StatusFilter:
    low: int
    high: int
    label: str


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    if floor == moment:
        return floor
    try:
        return floor + timedelta(hours=1)
    except OverflowError:  # the last hour Python can represent: no whole hour follows
        return datetime.max.replace(tzinfo=moment.tzinfo)


def _split(window: Window, status: StatusFilter | None, *, status_column: bool = True) -> tuple[str, str, dict]:
    """WHERE clauses for (rollup part, raw part) covering ``window`` exactly once."""
    params: dict = {}
    status_sql = ""
    if status is not None and status_column:
        status_sql = " AND status BETWEEN %(s_low)s AND %(s_high)s"
        params.update(s_low=status.low, s_high=status.high)
    if window.start is None and window.end is None:
        return "TRUE" + status_sql, "FALSE", params
    start, end = window.start, window.end
    hour_start = _ceil_hour(start) if start else None
    hour_end = _floor_hour(end) if end else None
    if hour_start is not None and hour_end is not None and hour_start >= hour_end:
        params.update(start=start, end=end)
        return "FALSE", "timestamp >= %(start)s AND timestamp < %(end)s" + status_sql, params
    rollup, raw = [], []
    if hour_start is not None:
        rollup.append("hour >= %(h_start)s")
        raw.append("(timestamp >= %(start)s AND timestamp < %(h_start)s)")
        params.update(h_start=hour_start, start=start)
    if hour_end is not None:
        rollup.append("hour < %(h_end)s")
        raw.append("(timestamp >= %(h_end)s AND timestamp < %(end)s)")
        params.update(h_end=hour_end, end=end)
    return " AND ".join(rollup) + status_sql, "(" + " OR ".join(raw) + ")" + status_sql, params


def _run(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _inline(sql: str, params: dict) -> str:
    """The query as text for citation (parameters shown as literals)."""
    text = sql
    for key, value in sorted(params.items(), key=lambda kv: -len(kv[0])):
        literal = f"'{value.isoformat()}'" if isinstance(value, datetime) else repr(value)
        text = text.replace(f"%({key})s", literal)
    return " ".join(text.split())


def log_top_ips(*, window: Window, status: StatusFilter | None = None, limit: int = 10) -> tuple[list[dict], str]:
    rollup, raw, params = _split(window, status)
    params["limit"] = limit
    sql = f"""
        SELECT ip, sum(n)::bigint AS requests FROM (
            SELECT ip, requests AS n FROM rag_log_hourly_count WHERE {rollup}
            UNION ALL
            SELECT ip, count(*) AS n FROM rag_system_log WHERE {raw} GROUP BY ip
        ) parts GROUP BY ip ORDER BY requests DESC, ip LIMIT %(limit)s
    """  # noqa: S608 - clauses are built from fixed fragments, values are parameters
    rows = [{"ip": ip, "requests": int(n)} for ip, n in _run(sql, params)]
    return rows, _inline(sql, params)


def log_status_counts(*, window: Window) -> tuple[dict[int, int], str]:
    rollup, raw, params = _split(window, None)
    sql = f"""
        SELECT status, sum(n)::bigint FROM (
            SELECT status, requests AS n FROM rag_log_hourly_count WHERE {rollup}
            UNION ALL
            SELECT status, count(*) AS n FROM rag_system_log WHERE {raw} GROUP BY status
        ) parts GROUP BY status ORDER BY status
    """  # noqa: S608 - fixed fragments
    return {int(s): int(n) for s, n in _run(sql, params)}, _inline(sql, params)


def log_error_rates(*, window: Window) -> tuple[dict, str]:
    counts, sql = log_status_counts(window=window)
    total = sum(counts.values())
    client = sum(n for s, n in counts.items() if 400 <= s < 500)
    server = sum(n for s, n in counts.items() if 500 <= s < 600)

    def rate(n: int) -> float:
        return round(100.0 * n / total, 3) if total else 0.0

    return {
        "requests": total,
        "client_errors_4xx": client,
        "server_errors_5xx": server,
        "error_rate_pct": rate(client + server),
        "client_error_rate_pct": rate(client),
        "server_error_rate_pct": rate(server),
        "by_status": {str(s): n for s, n in counts.items()},
    }, sql


def log_latency_percentiles(
    *, window: Window, status: StatusFilter | None = None, percentiles: tuple[float, ...] = (50, 90, 95, 99)
) -> tuple[dict, str]:
    """Nearest-rank (``percentile_disc``) percentiles of response time in ms, exact."""
    if status is None:
        rollup, raw, params = _split(window, None)
        sql = f"""
            SELECT ms, sum(n)::bigint FROM (
                SELECT response_time_ms AS ms, requests AS n FROM rag_log_hourly_latency WHERE {rollup}
                UNION ALL
                SELECT response_time_ms, count(*) FROM rag_system_log
                WHERE {raw} AND response_time_ms IS NOT NULL GROUP BY 1
            ) parts GROUP BY ms ORDER BY ms
        """  # noqa: S608 - fixed fragments
    else:
        # The latency rollup has no status: read the raw rows of the window.
        params = {"s_low": status.low, "s_high": status.high}
        where = "status BETWEEN %(s_low)s AND %(s_high)s AND response_time_ms IS NOT NULL"
        if window.start:
            where += " AND timestamp >= %(start)s"
            params["start"] = window.start
        if window.end:
            where += " AND timestamp < %(end)s"
            params["end"] = window.end
        sql = f"SELECT response_time_ms, count(*) FROM rag_system_log WHERE {where} GROUP BY 1 ORDER BY 1"  # noqa: S608
    histogram = _run(sql, params)
    total = sum(n for _, n in histogram)
    out: dict = {"requests_with_response_time": int(total)}
    if total:
        targets = sorted(percentiles)
        cumulative, i = 0, 0
        for value, n in histogram:
            cumulative += n
            while i < len(targets) and cumulative >= targets[i] / 100.0 * total:
                out[f"p{targets[i]:g}"] = int(value)
                i += 1
        weighted = sum(v * n for v, n in histogram)
        out["mean_ms"] = round(weighted / total, 2)
        out["max_ms"] = int(histogram[-1][0])
    return out, _inline(sql, params)


def log_top_paths(*, window: Window, status: StatusFilter | None = None, limit: int = 10) -> tuple[list[dict], str]:
    """Paths by request count (raw rows: paths are not rolled up)."""
    params: dict = {"limit": limit}
    where = ["TRUE"]
    if status is not None:
        where.append("status BETWEEN %(s_low)s AND %(s_high)s")
        params.update(s_low=status.low, s_high=status.high)
    if window.start:
        where.append("timestamp >= %(start)s")
        params["start"] = window.start
    if window.end:
        where.append("timestamp < %(end)s")
        params["end"] = window.end
    sql = (
        f"SELECT path, count(*) AS requests FROM rag_system_log WHERE {' AND '.join(where)} "  # noqa: S608
        "GROUP BY path ORDER BY requests DESC, path LIMIT %(limit)s"
    )
    return [{"path": p, "requests": int(n)} for p, n in _run(sql, params)], _inline(sql, params)


def log_time_range() -> tuple[datetime | None, datetime | None]:
    rows = _run("SELECT min(hour), max(hour) FROM rag_log_hourly_count", {})
    return rows[0] if rows else (None, None)


def log_stats(*, window: Window, status: StatusFilter | None = None, limit: int = 10) -> dict:
    top, _ = log_top_ips(window=window, status=status, limit=limit)
    errors, _ = log_error_rates(window=window)
    latency, _ = log_latency_percentiles(window=window)
    return {
        "window": {
            "start": window.start.isoformat() if window.start else None,
            "end": window.end.isoformat() if window.end else None,
        },
        "status_filter": None if status is None else {"low": status.low, "high": status.high},
        "top_ips": top,
        "errors": errors,
        "latency_ms": latency,
    }


def log_list(
    *,
    ip: str | None = None,
    status: int | None = None,
    status_low: int | None = None,
    status_high: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    path_contains: str | None = None,
    method: str | None = None,
):
    """Log rows, most recently ingested first, filtered."""
    qs = SystemLog.objects.all()
    if ip:
        qs = qs.filter(ip=ip)
    if status is not None:
        qs = qs.filter(status=status)
    if status_low is not None:
        qs = qs.filter(status__gte=status_low)
    if status_high is not None:
        qs = qs.filter(status__lte=status_high)
    if start is not None:
        qs = qs.filter(timestamp__gte=start)
    if end is not None:
        qs = qs.filter(timestamp__lt=end)
    if path_contains:
        qs = qs.filter(path__contains=path_contains)
    if method:
        qs = qs.filter(method=method.upper())
    # Newest lines first in primary-key order (uses the index; no sort of a large table).
    return qs.order_by("-log_file_id", "-line_number")
