"""A MongoDB wire-protocol server for the store contract tests when no real MongoDB is reachable.

SecantusDB (GPL-2.0, a MongoDB-compatible server on WiredTiger) is installed in a virtualenv of
its own (``scripts/bootstrap.sh``: ``SECANTUS_VENV``, default ``~/.cache/tier0/secantus-venv``) and
only ever run as a separate process on a free loopback port with in-memory storage: the project
talks to it through pymongo like to any MongoDB and never imports it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.processes import free_port

SECANTUS_VERSION = "0.7.0b3"
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tier0" / "secantus-venv"


def secantus_binary() -> Path:
    return Path(os.environ.get("SECANTUS_VENV") or DEFAULT_VENV) / "bin" / "secantusd-py"


def mongo_reachable(uri: str, timeout_ms: int = 500) -> bool:
    from pymongo import MongoClient

    client = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable here"
        return False
    finally:
        client.close()


class SecantusServer:
    """``with SecantusServer() as uri:`` a running server for the block, stopped (and its log kept) after."""

    def __init__(self, *, start_timeout_s: float = 60.0) -> None:
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self.uri = ""

    def __enter__(self) -> str:
        binary = secantus_binary()
        if not binary.exists():
            raise FileNotFoundError(f"{binary} is missing; run: make bootstrap (installs secantusdb=={SECANTUS_VERSION})")
        port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="secantus-", suffix=".log", delete=False)
        self.process = subprocess.Popen(  # noqa: S603 - our own pinned binary, fixed arguments
            [str(binary), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:", "--log-level", "WARNING"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(),
        )
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        deadline = time.monotonic() + self.start_timeout_s
        while not mongo_reachable(self.uri):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"SecantusDB did not start on port {port}; see {self.log.name}")
            time.sleep(0.2)
        return self.uri

    def __exit__(self, *_exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
