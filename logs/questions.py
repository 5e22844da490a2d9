"""Answer log questions from exact SQL aggregates.

A question is read for what it asks (top client addresses, error rates,
response-time percentiles, top paths, or a summary), an optional status filter
("Error 400", "5xx", "server errors", "not found") and an optional time window
("last 2 hours", "today", "yesterday", "on 2024-10-10", "between A and B",
"since A"). Relative windows are measured back from now.
"""

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from logs import selectors
from logs.selectors import StatusFilter, Window

NAMED_STATUS = {
    "bad request": (400, 400),
    "unauthorized": (401, 401),
    "unauthorised": (401, 401),
    "forbidden": (403, 403),
    "not found": (404, 404),
    "too many requests": (429, 429),
    "rate limited": (429, 429),
    "internal server error": (500, 500),
    "bad gateway": (502, 502),
    "service unavailable": (503, 503),
    "gateway timeout": (504, 504),
    "server error": (500, 599),
    "client error": (400, 499),
}
UNITS = {"minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 604800}
ISO = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?"

# What the access logs describe: the question router weighs a question's words against these.
LOG_VOCABULARY = (
    "log logs logged access request requests traffic hit hits ip ips address addresses client clients host hosts "
    "device devices source status code codes error errors failure failures failed http response responses "
    "latency latencies slow slowest fast percentile percentiles median p50 p90 p95 p99 response time times ms "
    "path paths endpoint endpoints url urls route routes method methods get post user agent agents referer referrer "
    "server client busiest noisiest frequent most top rate"
)
# Shapes of question only the logs answer: a status code or class, a percentile, a relative time window.
LOG_SHAPE_RE = re.compile(
    r"\b[1-5]xx\b|\b(?:error|status|code|http)s?\s*(?:code\s*)?[1-5]\d\d\b|\b[1-5]\d\d\s*(?:errors?|status|responses?)\b"
    r"|\bp(?:50|90|95|99)\b|\b(?:last|past|previous)\s+\d*\s*(?:minute|min|hour|hr|day|week)s?\b|\b(?:today|yesterday)\b"
    rf"|\bbetween\s+{ISO}\s+and\b|\b(?:since|on)\s+{ISO}"
)


def log_question_shape(question: str) -> bool:
    """True when the question has a shape only the logs answer (see ``LOG_SHAPE_RE``)."""
    return bool(LOG_SHAPE_RE.search(question.lower())) or any(name in question.lower() for name in NAMED_STATUS)


def parse_status(question: str) -> StatusFilter | None:
    q = question.lower()
    match = re.search(r"\b([1-5])xx\b", q)
    if match:
        low = int(match.group(1)) * 100
        return StatusFilter(low, low + 99, f"{match.group(1)}xx")
    match = re.search(r"(?:error|status|code|http|response)s?\s*(?:code\s*)?(?:of\s*)?([1-5]\d\d)\b", q) or re.search(
        r"\b([1-5]\d\d)\s*(?:error|errors|status|responses?|codes?|s\b)", q
    )
    if match:
        code = int(match.group(1))
        return StatusFilter(code, code, str(code))
    for name, (low, high) in NAMED_STATUS.items():
        if name in q:
            return StatusFilter(low, high, name)
    # "requests that returned 503": a bare status code, unless it counts something else.
    match = re.search(
        r"(?<!top )(?<![\d.:-])\b([1-5]\d\d)\b(?!\s*(?:ms|milliseconds?|minutes?|mins?|hours?|days?|lines?|ips?|requests?|%))", q
    )
    if match:
        code = int(match.group(1))
        return StatusFilter(code, code, str(code))
    if re.search(r"\b(errors?|failures?|failed|failing)\b", q) and not re.search(r"error rate|rate of error|how many error", q):
        return StatusFilter(400, 599, "errors (4xx and 5xx)")
    return None


class WindowError(ValueError):
    """The question names a time that does not exist or cannot be counted; the message says which."""


# Python's datetime ends at year 9999: later bounds are open ends, earlier starts are "all logged time".
LATEST = datetime.max.replace(tzinfo=UTC)


def _parse_moment(text: str) -> datetime:
    clean = text.replace("T", " ")
    fmt = "%Y-%m-%d %H:%M:%S" if clean.count(":") == 2 else "%Y-%m-%d %H:%M" if ":" in clean else "%Y-%m-%d"
    try:
        return datetime.strptime(clean, fmt).replace(tzinfo=UTC)
    except ValueError as exc:
        raise WindowError(f"{text} is not a date (expected YYYY-MM-DD with a real month and day)") from exc


def _after(moment: datetime, delta: timedelta) -> datetime | None:
    """``moment + delta``, or None (an open end) past the last representable time."""
    return moment + delta if LATEST - moment > delta else None


def _back(now: datetime, amount: int, unit: str) -> Window:
    seconds = amount * UNITS[unit]
    label = f"the last {amount:,} {unit if amount == 1 else unit + 's'}"
    try:
        return Window(now - timedelta(seconds=seconds), now, label)
    except OverflowError:
        return Window(None, now, f"{label} (longer than any log can cover: all logged time)")


def parse_window(question: str, now: datetime | None = None) -> Window:
    q = question.lower()
    now = now or timezone.now()
    match = re.search(rf"between\s+({ISO})\s+and\s+({ISO})", q)
    if match:
        start, end = _parse_moment(match.group(1)), _parse_moment(match.group(2))
        if end < start:
            raise WindowError(f"{match.group(2)} is before {match.group(1)}")
        label = f"between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC"
        if ":" not in match.group(2):
            end = _after(end, timedelta(days=1))  # "between 2024-10-01 and 2024-10-03" includes the last day
            label = f"between {start:%Y-%m-%d} and {match.group(2)} (inclusive, UTC)"
        return Window(start, end, label)
    match = re.search(rf"(?:since|after|from)\s+({ISO})", q)
    if match:
        start = _parse_moment(match.group(1))
        return Window(start, None, f"since {start:%Y-%m-%d %H:%M} UTC")
    match = re.search(rf"\bon\s+({ISO})", q) or re.search(rf"\b({ISO})\b", q)
    if match:
        start = _parse_moment(match.group(1))
        if ":" in match.group(1):
            return Window(start, _after(start, timedelta(hours=1)), f"the hour from {start:%Y-%m-%d %H:%M} UTC")
        return Window(start, _after(start, timedelta(days=1)), f"{start:%Y-%m-%d} (UTC)")
    match = re.search(r"(?:last|past|previous)\s+(\d+)?\s*(minute|min|hour|hr|day|week)s?\b", q)
    if match:
        return _back(now, int(match.group(1) or 1), match.group(2))
    if "today" in q:
        start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(start, now, "today (UTC)")
    if "yesterday" in q:
        end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(end - timedelta(days=1), end, "yesterday (UTC)")
    return Window(None, None, "all logged time")


def parse_limit(question: str) -> int:
    q = question.lower()
    match = re.search(r"\btop\s+(\d{1,3})\b", q) or re.search(r"\b(\d{1,3})\s+(?:most|top|busiest|noisiest)\b", q)
    if match:
        return max(1, min(int(match.group(1)), 100))
    return 10


def log_intent(question: str) -> str:
    q = question.lower()
    if re.search(r"percentile|\bp\d{2}\b|latenc|response[- ]time|slow", q):
        return "latency"
    if re.search(
        r"error rate|failure rate|rate of (?:error|fail)|percentage|how many (?:error|fail|request)|status (?:code )?breakdown", q
    ):
        return "error_rate"
    if re.search(r"\b(path|paths|endpoint|endpoints|url|urls|route|routes)\b", q):
        return "top_paths"
    if re.search(r"\b(ip|ips|address|addresses|device|devices|client|clients|host|hosts|source|sources)\b", q):
        return "top_ips"
    return "summary"


def answer_log_question(question: str, *, now: datetime | None = None) -> dict:
    """The answer dict (without provider fields) for a log question; an impossible date is answered in words."""
    try:
        window = parse_window(question, now)
    except WindowError as exc:
        return {
            "answer": f"That time window cannot be read: {exc}. Ask with dates such as 2024-10-10, "
            "'between 2024-10-01 and 2024-10-03' or 'the last 6 hours'.",
            "type": "logs",
            "sources": [],
            "data": {"window_error": str(exc)},
        }
    status = parse_status(question)
    intent = log_intent(question)
    limit = parse_limit(question)
    when = window.describe()
    sources = []
    data: dict = {"intent": intent, "window": _window_data(window), "status_filter": _status_data(status)}
    if intent == "top_ips":
        rows, sql = selectors.log_top_ips(window=window, status=status, limit=limit)
        sources.append({"query": sql})
        data["rows"] = rows
        what = f"{status.label} responses" if status else "requests"
        if rows:
            listing = "; ".join(f"{r['ip']} ({r['requests']:,})" for r in rows)
            answer = f"Client IPs with the most {what} over {when}: {listing}."
        else:
            answer = f"No {what} are logged over {when}."
        if status is not None and status.low == 400 and status.high == 599 and re.search(r"\brequests\b", question.lower()):
            # "the most requests or errors": both rankings.
            all_rows, all_sql = selectors.log_top_ips(window=window, status=None, limit=limit)
            sources.append({"query": all_sql})
            data["rows_all_requests"] = all_rows
            listing = "; ".join(f"{r['ip']} ({r['requests']:,})" for r in all_rows)
            answer += f" By all requests: {listing}." if all_rows else ""
    elif intent == "top_paths":
        rows, sql = selectors.log_top_paths(window=window, status=status, limit=limit)
        sources.append({"query": sql})
        data["rows"] = rows
        what = f"{status.label} responses" if status else "requests"
        listing = "; ".join(f"{r['path']} ({r['requests']:,})" for r in rows)
        answer = f"Paths with the most {what} over {when}: {listing}." if rows else f"No {what} are logged over {when}."
    elif intent == "latency":
        stats, sql = selectors.log_latency_percentiles(window=window, status=status)
        sources.append({"query": sql})
        data["latency_ms"] = stats
        scope = f" for {status.label} responses" if status else ""
        if stats["requests_with_response_time"]:
            answer = (
                f"Response times{scope} over {when} ({stats['requests_with_response_time']:,} requests): "
                f"p50 {stats['p50']} ms, p90 {stats['p90']} ms, p95 {stats['p95']} ms, p99 {stats['p99']} ms, "
                f"mean {stats['mean_ms']} ms, max {stats['max_ms']} ms."
            )
        else:
            answer = f"No requests with a response time are logged{scope} over {when}."
    else:
        errors, sql = selectors.log_error_rates(window=window)
        sources.append({"query": sql})
        data["errors"] = errors
        if errors["requests"]:
            answer = (
                f"Over {when}: {errors['requests']:,} requests, {errors['client_errors_4xx'] + errors['server_errors_5xx']:,} "
                f"errors ({errors['error_rate_pct']}%): {errors['client_errors_4xx']:,} client errors 4xx "
                f"({errors['client_error_rate_pct']}%) and {errors['server_errors_5xx']:,} server errors 5xx "
                f"({errors['server_error_rate_pct']}%)."
            )
            if status is not None and status.low == status.high:
                n = errors["by_status"].get(str(status.low), 0)
                answer += f" Status {status.low}: {n:,} responses."
        else:
            answer = f"No requests are logged over {when}."
        if intent == "summary" and errors["requests"]:
            rows, top_sql = selectors.log_top_ips(window=window, status=status, limit=5)
            sources.append({"query": top_sql})
            data["rows"] = rows
            answer += " Busiest clients: " + "; ".join(f"{r['ip']} ({r['requests']:,})" for r in rows) + "."
    return {"answer": answer, "type": "logs", "sources": sources, "data": data}


def _window_data(window: Window) -> dict:
    return {
        "start": window.start.isoformat() if window.start else None,
        "end": window.end.isoformat() if window.end else None,
        "label": window.label,
    }


def _status_data(status: StatusFilter | None) -> dict | None:
    return None if status is None else {"low": status.low, "high": status.high, "label": status.label}
