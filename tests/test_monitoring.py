"""Prometheus scrapes every process; the Grafana dashboard only charts metrics the code exports."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import django_prometheus.middleware
import httpx
import pytest
import yaml
from django.conf import settings
from prometheus_client import REGISTRY

import failover.watcher
import telemetry.selectors
from failover.management.commands.run_failover_watcher import Command as WatcherCommand
from sessions_app.consumer import SessionSink
from sessions_app.management.commands.run_rabbitmq_consumer import Command as SessionsCommand
from telemetry.consumer import TelemetrySink
from telemetry.management.commands.run_mqtt_consumer import Command as MqttCommand
from tests.support.processes import free_port, subprocess_env, wait_for_http
from tier0site.workers import WorkerMetrics

DEPLOY = Path(settings.BASE_DIR) / "deploy"
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")
WORKER_JOBS = {"mqtt_consumer": MqttCommand, "rabbitmq_consumer": SessionsCommand, "failover_watcher": WatcherCommand}


def _exported_names() -> set[str]:
    # What each process registers at start-up: the consumers' worker metrics, the watcher's and the
    # device cache's on import, django_prometheus's through its middleware.
    assert failover.watcher and telemetry.selectors
    for sink in (TelemetrySink, SessionSink):
        WorkerMetrics(sink.metrics_prefix, sink.counters)
    django_prometheus.middleware.Metrics.get_instance()  # what the middleware registers at start-up
    return {family.name + suffix for family in REGISTRY.collect() for suffix in SUFFIXES}


def _jobs(path: Path) -> dict[str, list[str]]:
    config = yaml.safe_load(path.read_text())
    return {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}


def _default_metrics_port(command_class) -> int:
    return command_class().create_parser("manage.py", "cmd").parse_args([]).metrics_port


def test_every_dashboard_metric_is_exported_by_the_code():
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "tier0.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b((?:tier0|django|failover)_[a-z0-9_]+)", expr)}
    assert used, "the dashboard charts nothing"
    assert used - _exported_names() == set()
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_scrape_configs_cover_every_process_on_its_default_port():
    compose_jobs = _jobs(DEPLOY / "prometheus" / "prometheus.yml")
    local_jobs = _jobs(DEPLOY / "prometheus" / "prometheus-local.yml")
    assert set(compose_jobs) == set(local_jobs) == {"web", *WORKER_JOBS}
    for job, command in WORKER_JOBS.items():
        port = _default_metrics_port(command)
        assert compose_jobs[job] == [f"{job}:{port}"]
        assert local_jobs[job] == [f"127.0.0.1:{port}"]


def test_compose_provisions_prometheus_and_grafana_with_the_dashboard():
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())
    services = compose["services"]
    for job in WORKER_JOBS:
        assert job in services, f"scraped process {job} is not a compose service"
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
    grafana_volumes = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_volumes
    assert "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro" in grafana_volumes
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "tier0.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert {"prometheus", "grafana"} <= set(compose["volumes"])


def test_every_worker_health_expects_runs_under_make_run_and_compose():
    procfile = {line.split(":", 1)[0] for line in (Path(settings.BASE_DIR) / "Procfile").read_text().splitlines() if line}
    services = set(yaml.safe_load((Path(settings.BASE_DIR) / "docker-compose.yml").read_text())["services"])
    for worker in settings.HEALTH_WORKERS:
        assert worker in procfile and worker in services, worker


@pytest.mark.django_db
def test_one_scrape_of_the_web_reads_every_worker(tmp_path, settings):
    """run_web starts several uvicorn workers; /metrics sums them (prometheus_client's multiprocess mode)."""
    port, token = free_port(), "scrape-token-for-test"
    env = subprocess_env(METRICS_TOKEN=token, HA_DATA_DIR=str(tmp_path / "no-ha"))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # run_web sets it itself
    web = subprocess.Popen(  # noqa: S603 - our own server
        [sys.executable, "manage.py", "run_web", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/version", web, timeout=60)
        with httpx.Client(base_url=base, timeout=5) as client:  # new connections: spread over the workers
            for _ in range(40):
                client.get("/api/version", headers={"Connection": "close"})
        scrapes = [httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).text for _ in range(6)]
    finally:
        web.terminate()
        web.wait(timeout=30)
    metrics_dir = Path(settings.BASE_DIR) / ".run" / "web-metrics" / str(web.pid)
    worker_files = {path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("*.db")}
    shutil.rmtree(metrics_dir, ignore_errors=True)
    counts = [_version_requests(text) for text in scrapes]
    # Every scrape, whichever worker answers it, counts all 41+ requests of both workers.
    assert all(count >= 41 for count in counts), counts
    assert len(worker_files) >= 2, worker_files  # both workers wrote their share


def _version_requests(text: str) -> float:
    pattern = r'^django_http_requests_latency_seconds_by_view_method_count\{method="GET",view="version"\} ([0-9.e+]+)$'
    return sum(float(m) for m in re.findall(pattern, text, flags=re.M))
