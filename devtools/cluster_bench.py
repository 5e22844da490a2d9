"""The ingest benchmark through a 3-node RabbitMQ cluster (``bench_ingest --transport rabbitmq``).

Publisher (the simulator's ``fleet_publish``, MQTT 3.1.1 QoS 1 to one node's
rabbitmq_mqtt) -> quorum queue replicated on three nodes -> N
``run_mqtt_consumer --transport rabbitmq`` processes (competing consumers) ->
PostgreSQL, in a database of its own; the cluster is started for the run on
loopback ports and killed afterwards. CPU seconds are read per component
(publisher processes, each broker node's processes, each consumer, the
PostgreSQL backends of the bench database) over the timed publish-and-store, and divided by the
messages. The Mosquitto figure of the same run is the existing Mosquitto path
(``ingest_bench.ingest_benchmark``), run first.
"""

import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path

import psutil

from devtools.device_publisher import fleet_publish
from devtools.device_simulator import Fleet
from devtools.ingest_bench import (
    BenchDatabase,
    PostgresCpu,
    _Consumer,
    _latency_figures,
    _wait_stored,
    ingest_benchmark,
    warm_up,
)
from devtools.rabbit_cluster import RabbitCluster
from telemetry import rabbitmq

QUEUE = "bench-telemetry"


def process_tree_cpu_s(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its live descendants (a node: the script, beam.smp, port programs)."""
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _per_msg_us(seconds: float, messages: int) -> float:
    return round(seconds / messages * 1e6, 1) if messages else 0.0


def _wait_consumers(cluster: RabbitCluster, count: int, *, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        out = cluster.alive()[0].ctl("list_queues", "-q", "--no-table-headers", "name", "consumers")
        if any(line.split("\t")[0] == QUEUE and int(line.split("\t")[1]) >= count for line in out.splitlines() if "\t" in line):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} consumers on {QUEUE}: {out[-300:]}")
        time.sleep(0.5)


def _publish_share(fleet: Fleet, index: int, count: int, brokers: list, results) -> None:
    """One publisher process (forked: the fleet is the parent's): its share of the messages, to its own first node."""
    cpu0 = time.process_time()
    first = index % len(brokers)
    report = fleet_publish(
        fleet,
        count=count,
        brokers=brokers[first:] + brokers[:first],
        stamp_sent={"bench": "live"},
        client_id=f"bench-publisher-{index}",
    )
    results.put((report.published, report.seconds, time.process_time() - cpu0))


def _publish(*, fleets: list[Fleet], messages: int, brokers: list) -> tuple[int, float, float]:
    """Publish from one process per fleet at once (each holds 300 QoS 1 messages in flight): published, rate, CPU s."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    n = len(fleets)
    processes = [
        context.Process(target=_publish_share, args=(fleet, i, messages // n + (i < messages % n), brokers, results), daemon=True)
        for i, fleet in enumerate(fleets)
    ]
    for process in processes:
        process.start()
    shares = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(60)
    published = sum(s[0] for s in shares)
    return published, published / max(s[1] for s in shares), sum(s[2] for s in shares)


def _split(fleet: Fleet, parts: int) -> list[Fleet]:
    """The fleet's devices dealt out to ``parts`` fleets: no device is published by two processes."""
    fleets = []
    for i in range(parts):
        part = Fleet(devices=0, seed=i + 2)
        part.devices = fleet.devices[i::parts]
        fleets.append(part)
    return fleets


def cluster_benchmark(*, messages: int, consumers: int, devices: int = 100_000, publishers: int = 3, log=None) -> dict:
    """One run through a 3-node cluster with ``consumers`` consumer processes and ``publishers`` publisher processes.

    A QoS 1 publisher keeps at most 300 messages in flight and a quorum queue
    confirms (PUBACK) only after a majority wrote it, so one publisher measures
    its own window, not the cluster: a fleet is many connections, here one
    publisher process per node by default.
    """
    workdir = Path(tempfile.mkdtemp(prefix="tier0-cluster-bench-"))
    cluster = RabbitCluster(workdir / "rabbit", size=3, prefix="bench")
    database = BenchDatabase()
    workers: list[_Consumer] = []
    succeeded = False
    try:
        cluster.start()
        rabbitmq.topology_ensure(queue=QUEUE, brokers=cluster.amqp_urls())
        database.create()
        urls = cluster.amqp_urls()
        for i in range(consumers):
            first = i % len(urls)  # spread the consumers over the nodes
            args = ("--transport", "rabbitmq", "--queue", QUEUE, "--brokers", ",".join(urls[first:] + urls[:first]))
            workers.append(_Consumer(database.env(), workdir / f"consumer{i}.log", args=args))
        fleet = Fleet(devices=devices, seed=1)
        brokers = cluster.mqtt_brokers()
        fleets = _split(fleet, publishers)
        with database.connect() as conn:
            for worker in workers:
                worker.start()
            warm_up(conn, fleet, brokers=brokers)
            _wait_consumers(cluster, consumers)
            nodes = [psutil.Process(node.process.pid) for node in cluster.nodes]
            node_cpu0 = [process_tree_cpu_s(p) for p in nodes]
            consumer_cpu0 = [w.cpu_s() for w in workers]
            pg_cpu = PostgresCpu(conn)
            started = time.monotonic()
            published, publish_rate, publisher_cpu = _publish(fleets=fleets, messages=messages, brokers=brokers)
            stored = _wait_stored(conn, "live", messages, log=log)
            wall = time.monotonic() - started
            cpu = {
                "publisher": publisher_cpu,
                "broker_nodes": [process_tree_cpu_s(p) - c0 for p, c0 in zip(nodes, node_cpu0, strict=True)],
                "consumers": [w.cpu_s() - c0 for w, c0 in zip(workers, consumer_cpu0, strict=True)],
                "postgres": pg_cpu.seconds(),  # the bench database's backends
            }
            live = _latency_figures(conn, "live")
        msgs_per_s = stored / live["span_s"] if live["span_s"] else 0.0
        succeeded = True
        return {
            "transport": "rabbitmq",
            "nodes": len(cluster.nodes),
            "consumers": consumers,
            "publishers": publishers,
            "messages": published,
            "stored": stored,
            "lost": published - stored,
            "duplicates": live["duplicates"],
            "seconds": round(live["span_s"], 2),
            "msgs_per_s": round(msgs_per_s),
            "publish_msgs_per_s": round(publish_rate),
            "p50_ms": live["p50_ms"],
            "p99_ms": live["p99_ms"],
            "cpu_seconds": {
                "publisher": round(cpu["publisher"], 1),
                "broker_nodes": [round(c, 1) for c in cpu["broker_nodes"]],
                "consumers": [round(c, 1) for c in cpu["consumers"]],
                "postgres": round(cpu["postgres"], 1),
                "wall": round(wall, 1),
            },
            "cpu_us_per_msg": {
                "publisher": _per_msg_us(cpu["publisher"], stored),
                "broker_nodes": [_per_msg_us(c, stored) for c in cpu["broker_nodes"]],
                "brokers_total": _per_msg_us(sum(cpu["broker_nodes"]), stored),
                "consumers_total": _per_msg_us(sum(cpu["consumers"]), stored),
                "postgres": _per_msg_us(cpu["postgres"], stored),
            },
            "measured": (
                f"{publishers} simulator processes -> MQTT QoS 1, one per node of a 3-node RabbitMQ cluster (quorum queue) -> "
                f"{consumers} run_mqtt_consumer --transport rabbitmq -> PostgreSQL, one run, 2 shared cores"
            ),
        }
    finally:
        for worker in workers:
            if worker.process and worker.process.poll() is None:
                worker.process.kill()
        cluster.stop()
        database.drop()
        if succeeded:
            shutil.rmtree(workdir, ignore_errors=True)
        elif log:
            log(f"run failed: consumer and node logs kept in {workdir}")


def mosquitto_figures(*, messages: int, devices: int, log=None) -> dict:
    """The Mosquitto path of the same run, per-message CPU as above."""
    figures = ingest_benchmark(messages=messages, devices=devices, log=log)
    cpu, stored = figures["cpu_seconds"], figures["stored"]
    return {
        "msgs_per_s": figures["msgs_per_s"],
        "messages": figures["messages"],
        "lost": figures["lost"],
        "duplicates": figures["duplicates"],
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
        "cpu_seconds": cpu,
        "cpu_us_per_msg": {name: _per_msg_us(cpu[name], stored) for name in ("publisher", "mosquitto", "consumer", "postgres")},
        "copy_rows_per_s": figures["copy_rows_per_s"],
    }
