"""The project's own Mosquitto: render its configuration and run it.

Used by `make run` (``manage.py run_broker``), by the tests and by the
benchmarks, always on a loopback port and data folder of the caller's choosing.
"""

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings

CONFIG_TEMPLATE = Path(settings.BASE_DIR) / "deploy" / "mosquitto" / "mosquitto.conf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _auth_lines(auth_dir: Path | None, bind: str) -> str:
    """Anonymous on loopback for a developer; a password file and ACL for anything else."""
    if auth_dir is None:
        if bind not in LOOPBACK:
            raise ValueError(f"refusing an anonymous broker on {bind}: set MQTT_AUTH_DIR (manage.py mqtt_credentials)")
        return "allow_anonymous true"
    auth_dir = Path(auth_dir)
    for name in ("passwd", "acl"):
        if not (auth_dir / name).exists():
            raise ValueError(f"{auth_dir / name} is missing: provision credentials with manage.py mqtt_credentials")
    return f"allow_anonymous false\npassword_file {auth_dir / 'passwd'}\nacl_file {auth_dir / 'acl'}"


def render_config(
    *, port: int, data_dir: Path, bind: str = "127.0.0.1", auth_dir: Path | None = None, overrides: dict[str, str] | None = None
) -> Path:
    """Fill in the template; ``overrides`` replaces whole options (``{"autosave_interval": "1"}``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    text = CONFIG_TEMPLATE.read_text()
    values = {"port": port, "bind": bind, "data_dir": data_dir, "user": getpass.getuser(), "auth": _auth_lines(auth_dir, bind)}
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    for option, value in (overrides or {}).items():
        lines = [line for line in text.splitlines() if line.split(" ", 1)[0] != option]
        text = "\n".join([*lines, f"{option} {value}"]) + "\n"
    path = data_dir / "mosquitto.conf"
    path.write_text(text)
    return path


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.05)


class MosquittoProcess:
    """A Mosquitto broker with the project's configuration, as a child process."""

    def __init__(
        self, *, data_dir: Path, port: int | None = None, auth_dir: Path | None = None, overrides: dict[str, str] | None = None
    ):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.auth_dir = auth_dir
        self.overrides = overrides
        self.process: subprocess.Popen | None = None

    def start(self) -> "MosquittoProcess":
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        config = render_config(port=self.port, data_dir=self.data_dir, auth_dir=self.auth_dir, overrides=self.overrides)
        log = open(self.data_dir / "mosquitto.log", "ab")  # noqa: SIM115 - lives as long as the broker
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - the mosquitto binary with the config we rendered
        wait_for_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "MosquittoProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
