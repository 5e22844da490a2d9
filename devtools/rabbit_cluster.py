"""A RabbitMQ cluster of our own on loopback ports, every node with the MQTT plugin (tests, benchmarks).

Built from ``devtools.rabbitmq`` (one ``RabbitEnv``: same cookie and epmd;
``node.join(first)``). Devices reach it over MQTT on any node's
``mqtt_port``; consumers over AMQP on any node's ``amqp_port``. ``stop`` kills
every node and the epmd, whatever state they are in, so a fixture's teardown
always leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from devtools.rabbitmq import RabbitEnv, RabbitError, RabbitNode


class RabbitCluster:
    def __init__(self, root: Path, *, size: int = 3, prefix: str = "t0r") -> None:
        self.env = RabbitEnv(root=Path(root))
        self.nodes: list[RabbitNode] = [self.env.node(f"{prefix}{i}", mqtt=True) for i in range(size)]

    def start(self, *, timeout_s: float = 120) -> RabbitCluster:
        """Boot every node at once, join the others to the first, wait for every MQTT listener."""
        try:
            for node in self.nodes:
                node.start(wait=False)
            for node in self.nodes:
                node.wait_ready(timeout_s=timeout_s)
            for node in self.nodes[1:]:
                node.join(self.nodes[0])
            for node in self.nodes:
                wait_listening(node.mqtt_port, timeout_s=timeout_s, node=node)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.kill()
        self.env.stop_epmd()

    # what clients need -------------------------------------------------------------
    def alive(self) -> list[RabbitNode]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def mqtt_brokers(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.nodes]

    def amqp_urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node_for_mqtt_port(self, port: int) -> RabbitNode:
        return next(n for n in self.nodes if n.mqtt_port == port)

    def queue_leader(self, queue: str) -> RabbitNode:
        """The node whose member of the quorum queue ``queue`` leads (asked of a live node)."""
        out = self.alive()[0].ctl("list_queues", "-q", "--no-table-headers", "name", "leader")
        for line in out.splitlines():
            name, _, leader = line.strip().partition("\t")
            if name == queue:
                return next(n for n in self.nodes if n.nodename == leader.strip())
        raise RabbitError(f"queue {queue} not found: {out[-300:]}")

    def queue_members(self, queue: str, *, column: str = "members") -> list[str]:
        """The nodes of the quorum queue's members (``column="online"``: those running)."""
        out = self.alive()[0].ctl("list_queues", "-q", "--no-table-headers", "name", column)
        for line in out.splitlines():
            name, _, members = line.strip().partition("\t")
            if name == queue:
                return [m.strip(" []'\"") for m in members.split(",") if m.strip(" []")]
        return []


def wait_listening(port: int, *, timeout_s: float, node: RabbitNode | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RabbitError(f"nothing listens on {port}: {node.log_tail() if node else ''}") from None
            time.sleep(0.2)
