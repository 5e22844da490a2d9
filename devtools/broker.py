"""The project's own Mosquitto: render its configuration and run it.

Used by `make run` (``manage.py run_broker``), by the tests and by the
benchmarks, always on a loopback port and data folder of the caller's choosing.
"""

import getpass
import random
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from django.conf import settings

CONFIG_TEMPLATE = Path(settings.BASE_DIR) / "deploy" / "mosquitto" / "mosquitto.conf"


PORTS_FROM = 20000  # free ports are drawn from here up to the kernel's ephemeral range
_issued: set[int] = set()
_issued_lock = threading.Lock()


def free_port() -> int:
    """A loopback port that is free now and lies below the kernel's ephemeral range.

    A test or drill restarts a server on its port (a failover, a chaos fault), so the port must still be free
    then. Outgoing connections take their source ports from the ephemeral range, and any of them can take a
    port there while its server is down. That includes a client's own reconnect attempts to it: a TCP
    connection to a local port with no listener can connect to itself. A chaos-drill RabbitMQ node once failed
    to listen again after its fault, on such a port. Below the range only an explicit bind takes a port, and
    this process never hands out the same port twice.
    """
    ephemeral_from = _ephemeral_from()
    if ephemeral_from - PORTS_FROM < 1000:  # an unusual kernel setting: leave the choice to the kernel
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    with _issued_lock:
        for _ in range(1000):
            port = random.randrange(PORTS_FROM, ephemeral_from)  # noqa: S311 - a port number, not a secret
            if port in _issued:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _issued.add(port)
            return port
    raise OSError(f"no free loopback port between {PORTS_FROM} and {ephemeral_from}")


def _ephemeral_from() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


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
