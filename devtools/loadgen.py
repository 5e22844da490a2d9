"""An open-loop HTTP load generator: requests leave on a fixed schedule, whatever the server does.

Closed-loop tools (wrk, or anything with N connections each waiting for its answer)
slow down with the server and so hide its queueing ("coordinated omission"). Here
request i is due at ``start + i / rate``; it takes an idle keep-alive connection or
opens a new one (up to ``max_connections``; beyond that it waits for one), and its
latency counts from when it was due, not from when it was sent. Written for
bench_api because wrk2 is not packaged here; plain asyncio streams (uvloop), so a
few hundred requests a second cost the generator little CPU (reported).
"""

import asyncio
import contextlib
import time

import psutil


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes, count_header: str | None, counts: dict) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if count_header:
            value = headers.get(count_header, "")
            counts[value] = counts.get(value, 0) + 1
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        return status


async def _run(host, port, requests, rate, seconds, max_connections, timeout_s, count_header) -> dict:
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    opened = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    header_counts: dict[str, int] = {}

    async def connection() -> _Connection:
        nonlocal opened
        if idle.empty() and opened < max_connections:
            opened += 1
            return _Connection(*await asyncio.open_connection(host, port))
        return await idle.get()

    async def one(raw: bytes, due: float) -> None:
        nonlocal errors
        conn = None
        try:
            conn = await asyncio.wait_for(connection(), timeout_s)
            status = await asyncio.wait_for(conn.request(raw, count_header, header_counts), timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            if conn is not None:
                conn.writer.close()
            return
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1
        idle.put_nowait(conn)

    total = int(rate * seconds)
    tasks = []
    cpu = psutil.Process().cpu_times()
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(requests[i % len(requests)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    cpu_after = psutil.Process().cpu_times()
    while not idle.empty():
        with contextlib.suppress(Exception):
            idle.get_nowait().writer.close()
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "offered_per_s": rate,
        "requests": total,
        "completed_per_s": round(len(latencies) / elapsed),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "non_2xx": len(latencies) - ok,
        "errors": errors,
        "connections_used": opened,
        "generator_cpu_s": round((cpu_after.user + cpu_after.system) - (cpu.user + cpu.system), 2),
        **({f"{count_header}_counts": header_counts} if count_header else {}),
    }


def open_loop(*, host: str, port: int, paths: list[str], headers: dict, rate: float, seconds: float,
              max_connections: int = 256, timeout_s: float = 10.0, count_header: str | None = None) -> dict:  # fmt: skip
    """Offer ``rate`` requests/s for ``seconds`` (paths in turn); latency percentiles from each request's due time.

    ``count_header`` (lower case) tallies the values of one response header, e.g. ``x-cache``.
    """
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for p in paths]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is pinned
        runner = asyncio.run
    return runner(_run(host, port, requests, rate, seconds, max_connections, timeout_s, count_header))
