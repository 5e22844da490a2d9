"""Run the web server (uvicorn, one worker per core) in the foreground: `make run`, compose, bench_api."""

import os

from django.core.management.base import BaseCommand

from tier0site.webserver import web_command


class Command(BaseCommand):
    help = "Serve HTTP and websockets with uvicorn, WEB_WORKERS (default: one per core) worker processes."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("WEB_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=None)

    def handle(self, *args, host, port, workers, **options):
        command = web_command(host=host, port=port, workers=workers)
        # exec, so the process manager's SIGTERM reaches uvicorn itself (graceful shutdown).
        os.execv(command[0], command)
