"""Loopback ports for the servers tests and drills start (``devtools.broker.free_port``)."""

import socket
from pathlib import Path

import pytest

from devtools.broker import PORTS_FROM, free_port
from devtools.rabbitmq import RabbitEnv, RabbitError


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_handed_out_twice():
    """A server restarted on its port after a fault must find it free: outgoing connections (a reconnecting
    client's too) take their source ports from the kernel's ephemeral range, never from below it."""
    ephemeral_from = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(PORTS_FROM <= port < ephemeral_from for port in ports)
    for port in ports[:20]:  # free when handed out
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_rabbitmq_node_that_cannot_listen_says_why(tmp_path):
    """What a drill reports when a restarted node finds its port taken: RabbitMQ's own reason, port included,
    not the end of an Erlang term."""
    held = socket.socket()
    held.bind(("127.0.0.1", free_port()))  # bound, not listening: nobody answers, the node cannot listen there
    port = held.getsockname()[1]
    env = RabbitEnv(tmp_path)
    node = env.node("taken", amqp_port=port)
    try:
        with pytest.raises(RabbitError, match=rf"could_not_start_listener.*{port}.*eaddrinuse"):
            node.start(timeout_s=90)
    finally:
        node.kill()
        env.stop_epmd()
        held.close()
