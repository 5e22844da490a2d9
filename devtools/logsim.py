"""Realistic access logs in the seed's format (no log file came with the seed).

A few hundred client addresses with a heavy-tailed share of traffic (a handful
of noisy devices and scanners make most errors), a status mix dominated by 200
with redirects, client and server errors, and response times that depend on
the status. Timestamps rise steadily over the window that ends at ``end``.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

PATHS = [
    "/api/telemetry",
    "/api/devices",
    "/api/sessions/active",
    "/api/query",
    "/api/images",
    "/api/health",
    "/api/failover/status",
    "/dashboard",
    "/static/app.js",
    "/static/app.css",
    "/login",
    "/api/logs/stats",
]
METHODS = ["GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "og-field-gateway/2.4.1 (turbine; linux-arm)",
    "og-field-gateway/2.4.1 (thermal_engine; linux-arm)",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Prometheus/2.48.0",
]
REFERERS = ["-", "-", "-", "https://tier0.example.com/dashboard", "https://tier0.example.com/login"]
STATUSES = np.array([200, 201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 502, 503])
STATUS_P = np.array([0.70, 0.03, 0.02, 0.01, 0.05, 0.04, 0.02, 0.01, 0.06, 0.01, 0.025, 0.01, 0.005])
STATUS_P = STATUS_P / STATUS_P.sum()
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _addresses(rng: np.random.Generator, count: int) -> list[str]:
    octets = rng.integers(1, 255, size=(count, 4))
    prefixes = ["10", "172.16", "192.168", None]
    out = []
    for i, row in enumerate(octets):
        prefix = prefixes[i % 4]
        if prefix == "10":
            out.append(f"10.{row[1]}.{row[2]}.{row[3]}")
        elif prefix == "172.16":
            out.append(f"172.16.{row[2]}.{row[3]}")
        elif prefix == "192.168":
            out.append(f"192.168.{row[2]}.{row[3]}")
        else:
            out.append(f"{row[0]}.{row[1]}.{row[2]}.{row[3]}")
    return list(dict.fromkeys(out))


def generate_lines(
    *, lines: int, seed: int = 7, end: datetime | None = None, hours: float = 24.0, ips: int = 400
) -> Iterator[str]:
    """Yield ``lines`` log lines (without newlines), oldest first."""
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC)
    start = end - timedelta(hours=hours)
    addresses = _addresses(rng, ips)
    # Zipf-like traffic share: a few devices dominate.
    weights = 1.0 / np.arange(1, len(addresses) + 1) ** 1.1
    weights /= weights.sum()
    # Errors come disproportionately from a few "bad" clients.
    error_weights = np.roll(weights, 3) ** 1.5
    error_weights /= error_weights.sum()
    step = (end - start).total_seconds() / max(lines, 1)
    block = 50_000
    done = 0
    while done < lines:
        n = min(block, lines - done)
        statuses = rng.choice(STATUSES, size=n, p=STATUS_P)
        normal_ip = rng.choice(len(addresses), size=n, p=weights)
        error_ip = rng.choice(len(addresses), size=n, p=error_weights)
        path_i = rng.integers(0, len(PATHS), size=n)
        method_i = rng.integers(0, len(METHODS), size=n)
        agent_i = rng.integers(0, len(AGENTS), size=n)
        ref_i = rng.integers(0, len(REFERERS), size=n)
        sizes = rng.integers(120, 48_000, size=n)
        base_rt = rng.lognormal(mean=3.6, sigma=0.6, size=n)
        cached = None
        for i in range(n):
            status = int(statuses[i])
            ip = addresses[error_ip[i] if status >= 400 else normal_ip[i]]
            moment = start + timedelta(seconds=(done + i) * step)
            second = int(moment.timestamp())
            if cached is None or cached[0] != second:
                cached = (second, f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000")
            rt = base_rt[i] * (6 if status >= 500 else 0.4 if status in (301, 304) else 1)
            size = "-" if status in (204, 304) else str(sizes[i])
            yield (
                f'{ip} - - [{cached[1]}] "{METHODS[method_i[i]]} {PATHS[path_i[i]]} HTTP/1.1" {status} {size} '
                f'"{REFERERS[ref_i[i]]}" "{AGENTS[agent_i[i]]}" {max(1, int(rt))}'
            )
        done += n
