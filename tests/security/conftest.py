"""The real ASGI server (uvicorn) as a subprocess on the test database.

Security claims are checked through the server people run, not through Django's
test client: whatever sits in front of Django (ASGI middleware, the server's
own handling of headers) is part of what an attacker talks to.
"""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.support.processes import free_port, wait_for_http

REPO = Path(settings.BASE_DIR)
METRICS_TOKEN = "scrape-token-for-tests-0123456789"


class AsgiServer:
    def __init__(self, tmp: Path, **env: str):
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "web.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tier0site.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "DB_CONN_MAX_AGE": "0",
            "METRICS_TOKEN": METRICS_TOKEN,
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "AsgiServer":
        uvicorn = str(Path(sys.executable).with_name("uvicorn"))
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(  # noqa: S603 - the project's ASGI server
            [uvicorn, "tier0site.asgi:application", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_http(f"{self.base_url}/accounts/login/", self.process, log=self.log)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory):
    server = AsgiServer(tmp_path_factory.mktemp("asgi")).start()
    yield server
    server.stop()
