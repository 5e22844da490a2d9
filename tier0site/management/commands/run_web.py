"""Run the web server (uvicorn, one worker per core) in the foreground: `make run`, compose, bench_api."""

import os
import shutil
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management.base import BaseCommand

from tier0site.webserver import web_command


def metrics_dir_fresh() -> Path:
    """An empty folder where every uvicorn worker keeps its metrics (prometheus_client's multiprocess mode).

    One scrape of /metrics then reads all workers' counters summed, whichever worker answers. The
    folder is this server's own (``.run/web-metrics/<pid>``; uvicorn keeps the pid, it is exec'd):
    two servers of one checkout never add up each other's counts, and folders of servers that are
    gone are removed. ``PROMETHEUS_MULTIPROC_DIR`` chooses the folder instead.
    """
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    root = Path(settings.BASE_DIR) / ".run" / "web-metrics"
    path = Path(chosen) if chosen else root / str(os.getpid())
    if not chosen and root.is_dir():
        for old in root.iterdir():
            if old.name.isdigit() and not psutil.pid_exists(int(old.name)):
                shutil.rmtree(old, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # only prometheus_client's own files, whatever the folder
        stale.unlink(missing_ok=True)
    return path


class Command(BaseCommand):
    help = "Serve HTTP and websockets with uvicorn, WEB_WORKERS (default: one per core) worker processes."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=None)

    def handle(self, *args, host, port, workers, **options):
        command = web_command(host=host, port=port, workers=workers)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir_fresh())
        # exec, so the process manager's SIGTERM reaches uvicorn itself (graceful shutdown).
        os.execv(command[0], command)  # noqa: S606 - becomes the web server command built in tier0site.webserver
