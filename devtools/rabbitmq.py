"""A RabbitMQ node of our own, from Debian's rabbitmq-server, on loopback ports.

Every node gets its own node name, AMQP port, Erlang distribution port, data
and log folder, configuration, plugin list and ``HOME`` (where Erlang reads the
cookie), and all of them use an ``epmd`` on a port of the caller's
``RabbitEnv`` instead of the machine's (4369), so nothing is shared with the
machine's RabbitMQ. Management and Prometheus plugins are off unless asked for.

A cluster is nodes built from one ``RabbitEnv`` (same cookie, same epmd) and
joined with ``node.join(first)``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pika
import pika.exceptions
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from devtools.broker import free_port
from sessions_app import amqp  # also quiets pika's INFO logging

RABBIT_SBIN = Path(os.environ.get("RABBITMQ_SBIN", "/usr/lib/rabbitmq/bin"))
EPMD = shutil.which("epmd") or "/usr/bin/epmd"


class RabbitError(RuntimeError):
    """A node did not start, stop or join in time."""


@dataclass
class RabbitEnv:
    """What the nodes of one cluster share: a root folder, an Erlang cookie and an epmd port."""

    root: Path
    cookie: str = field(default_factory=lambda: secrets.token_hex(16))
    epmd_port: int = field(default_factory=free_port)

    def node(self, name: str, *, plugins: tuple[str, ...] = (), amqp_port: int | None = None, mqtt: bool = False) -> RabbitNode:
        """A node of this cluster; ``mqtt`` enables the MQTT plugin on a free port of its own."""
        if mqtt:
            plugins = (*plugins, "rabbitmq_mqtt")
        return RabbitNode(
            env=self, name=name, plugins=plugins, amqp_port=amqp_port or free_port(), mqtt_port=free_port() if mqtt else None
        )

    def stop_epmd(self, *, timeout_s: float = 10) -> None:
        """Stop the epmd the nodes started (it outlives them).

        epmd refuses ``-kill`` while a node is still registered, and a node
        SIGKILLed a moment ago may still be: retry until it is gone.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            result = subprocess.run(  # noqa: S603 - fixed binary, our own port
                [EPMD, "-port", str(self.epmd_port), "-kill"], capture_output=True, text=True, timeout=10, check=False
            )
            if "Killed" in result.stdout or "Cannot connect" in result.stdout + result.stderr:
                return
            if time.monotonic() > deadline:
                return
            time.sleep(0.2)


@dataclass
class RabbitNode:
    env: RabbitEnv
    name: str
    amqp_port: int
    plugins: tuple[str, ...] = ()
    mqtt_port: int | None = None  # the MQTT plugin's listener (plugins must include rabbitmq_mqtt)
    dist_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def nodename(self) -> str:
        return f"{self.name}@localhost"

    @property
    def dir(self) -> Path:
        return Path(self.env.root) / self.name

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    def environ(self) -> dict[str, str]:
        """The environment rabbitmq-server and rabbitmqctl read for this node."""
        d = self.dir
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(d),  # Erlang reads $HOME/.erlang.cookie
            "ERL_EPMD_PORT": str(self.env.epmd_port),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),  # not /etc/rabbitmq's
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_LOGS": str(d / "log" / "rabbit.log"),
            "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.dist_port + 1),  # CLI tools, not the machine's 35672
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.dist_port + 10),
        }

    def _write_files(self) -> None:
        d = self.dir
        (d / "log").mkdir(parents=True, exist_ok=True)
        cookie = d / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.env.cookie)
            cookie.chmod(0o400)  # Erlang refuses a cookie file others can read
        (d / "rabbitmq-env.conf").write_text("")
        (d / "advanced.config").write_text("[].\n")
        (d / "enabled_plugins").write_text("[" + ",".join(self.plugins) + "].\n")
        (d / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
                    "loopback_users.guest = true",
                    "log.console = false",
                    "log.file.level = warning",
                    # The machine is shared and small: never block publishers on its disk or memory figures.
                    "disk_free_limit.absolute = 50MB",
                    "vm_memory_high_watermark.relative = 0.8",
                    *self._mqtt_config(),
                ]
            )
            + "\n"
        )

    def _mqtt_config(self) -> list[str]:
        if self.mqtt_port is None:
            return []
        return [
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt_port}",
            "mqtt.allow_anonymous = true",  # as guest, which loopback_users allows on loopback only
            "mqtt.vhost = /",
            "mqtt.exchange = amq.topic",
        ]

    def start(self, *, timeout_s: float = 90, wait: bool = True) -> RabbitNode:
        """Start the node; with ``wait=False`` return at once (call ``wait_ready`` later: it boots in seconds)."""
        self._write_files()
        out = open(self.dir / "log" / "stdout.log", "ab")  # noqa: SIM115 - lives as long as the node
        self.process = subprocess.Popen(  # noqa: S603 - Debian's script, our environment
            [str(RABBIT_SBIN / "rabbitmq-server")],
            env=self.environ(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # kill() takes the whole process group
        )
        if wait:
            self.wait_ready(timeout_s=timeout_s)
        return self

    def wait_ready(self, *, timeout_s: float = 90) -> None:
        """Wait until the node accepts an AMQP connection (it listens once booted)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process and self.process.poll() is not None:
                raise RabbitError(f"{self.nodename} exited ({self.process.returncode}): {self.boot_failure()}")
            # A node still booting may accept the connection and not finish the handshake in time: pika reports
            # that as an AMQPConnectorException, which is no AMQPError. Either way, not ready yet.
            with contextlib.suppress(pika.exceptions.AMQPError, AMQPConnectorException, OSError):
                socket.create_connection(("127.0.0.1", self.amqp_port), timeout=1).close()  # quiet probe first
                pika.BlockingConnection(amqp.connection_parameters(self.url)).close()
                return
            if time.monotonic() > deadline:
                raise RabbitError(f"{self.nodename} not ready after {timeout_s}s: {self.log_tail()}")
            time.sleep(0.2)

    def boot_failure(self, chars: int = 800) -> str:
        """Why the node stopped while booting: RabbitMQ's own "BOOT FAILED" report when there is one (it names
        the cause first, e.g. ``could_not_start_listener`` with the port), else the log's end."""
        with contextlib.suppress(OSError):
            text = (self.dir / "log" / "stdout.log").read_text(errors="replace")
            if "BOOT FAILED" in text:
                return " ".join(text[text.rindex("BOOT FAILED") :].split())[:chars]
        return self.log_tail(chars)

    def log_tail(self, chars: int = 800) -> str:
        text = ""
        for name in ("stdout.log", "rabbit.log"):
            with contextlib.suppress(OSError):
                text += (self.dir / "log" / name).read_text(errors="replace")[-chars:]
        return text[-chars:]

    def kill(self) -> None:
        """SIGKILL the node (an unplanned crash): the Erlang VM and its port programs."""
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, *, timeout_s: float = 30) -> None:
        """A clean stop (SIGTERM: the Erlang VM shuts down in order), SIGKILL if it hangs."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def ctl(self, *args: str, timeout_s: float = 60) -> str:
        """Run rabbitmqctl against this node."""
        result = subprocess.run(  # noqa: S603 - Debian's CLI, our node
            [str(RABBIT_SBIN / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RabbitError(f"rabbitmqctl {' '.join(args)}: {(result.stderr or result.stdout).strip()[-500:]}")
        return result.stdout

    def join(self, seed: RabbitNode) -> None:
        """Join ``seed``'s cluster (both nodes from one RabbitEnv: same cookie and epmd)."""
        self.ctl("stop_app")
        self.ctl("join_cluster", seed.nodename)
        self.ctl("start_app")
        self.wait_ready()

    def delete(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
