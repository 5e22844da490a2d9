"""The web server: one definition, used by `make run` (Procfile), docker-compose and bench_api.

uvicorn serves HTTP and websockets from the same ASGI application with one worker
process per core (``WEB_WORKERS`` overrides): Django's sync views run in each
worker's thread pool, so more processes than cores only add context switches.
Live events cross workers through the Redis channel layer.
"""

import os
import sys
from pathlib import Path


def web_workers() -> int:
    configured = os.environ.get("WEB_WORKERS", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else (os.cpu_count() or 1)


def web_command(*, host: str, port: int, workers: int | None = None) -> list[str]:
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    return [
        uvicorn, "tier0site.asgi:application",
        "--host", host, "--port", str(port),
        "--workers", str(workers or web_workers()),
        "--lifespan", "off",  # Django's ASGI handler has no lifespan events
        "--no-access-log",  # requests are logged by the application, once, as JSON
        "--log-level", os.environ.get("WEB_LOG_LEVEL", "warning"),
    ]  # fmt: skip
