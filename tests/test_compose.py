"""docker-compose.yml: valid for Compose in every profile, built from the shipped Dockerfile, profiles consistent.

No Docker engine runs here and none is started: Debian's docker-compose 1.29 (installed by
scripts/bootstrap.sh without recommends, so the client only) validates the file against its
Compose schema and interpolates it (`config -q`), which rejects unknown keys such as
`dockerfile_inline`, bad `depends_on` conditions and missing mandatory variables.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from dotenv import dotenv_values

REPO = Path(settings.BASE_DIR)
COMPOSE = REPO / "docker-compose.yml"
HA_ENV = REPO / "deploy" / "compose" / "ha.env"
CLUSTER_CONF = REPO / "deploy" / "rabbitmq" / "cluster.conf"
PROFILES = ([], ["ha"], ["cluster"], ["ha", "cluster"])
# Placeholders for every credential the file demands (`${VAR:?...}`): config only interpolates them.
SECRETS = {
    name: "placeholder-secret-for-validation"
    for name in (
        "DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "POSTGRES_REPLICATION_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD",
        "METRICS_TOKEN", "MQTT_CONSUMER_PASSWORD", "MQTT_SIMULATOR_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
        "RABBITMQ_ERLANG_COOKIE", "RABBITMQ_DEVICE_PASSWORD",
    )
}  # fmt: skip


def _compose_config(tmp_path: Path, profiles: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run `make bootstrap` (Debian package docker-compose)")
    empty_env_file = tmp_path / "empty.env"  # not the developer's .env beside the compose file
    empty_env_file.write_text("")
    args = [binary, "--env-file", str(empty_env_file), "-f", str(COMPOSE)]
    for profile in profiles:
        args += ["--profile", profile]
    return subprocess.run(  # noqa: S603 - the Debian docker-compose client, fixed arguments
        [*args, "config", "-q"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _depends_on(service: dict) -> list[str]:
    depends = service.get("depends_on", [])
    return list(depends) if isinstance(depends, dict) else depends


def _ha_env() -> dict[str, str]:
    return {k: v for k, v in dotenv_values(HA_ENV).items() if v is not None}


@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(p) or "default")
def test_compose_file_validates_in_every_profile(tmp_path, profiles):
    env = {**SECRETS, **(_ha_env() if "ha" in profiles else {})}
    result = _compose_config(tmp_path, profiles, env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_run_without_each_credential(tmp_path, missing):
    """No default password anywhere: leave one credential out and Compose stops, naming it."""
    env = {**SECRETS, **_ha_env()}
    del env[missing]
    result = _compose_config(tmp_path, ["ha", "cluster"], env)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr, result.stderr


def test_no_service_uses_rabbitmqs_guest():
    for name, service in _services().items():
        environment = service.get("environment", {})
        assert "guest" not in str(environment.get("RABBITMQ_DEFAULT_USER", "")), name
        assert "guest:" not in str(environment), name


def test_the_app_image_is_built_from_the_shipped_dockerfile():
    built = {name: s["build"] for name, s in _services().items() if "build" in s}
    assert {"web", "mqtt_consumer", "telemetry-consumer-1", "telemetry-consumer-2"} <= set(built)
    for name, build in built.items():
        assert build == {"context": ".", "dockerfile": "Dockerfile"}, name
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, flags=re.M)
    assert "pip install -r requirements.txt" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", ".run"} <= set(ignored)


def test_profiles_only_add_nodes():
    """`docker compose up` without a profile never waits for a service that only a profile starts."""
    services = _services()
    for name, service in services.items():
        own = set(service.get("profiles", []))
        for dependency in _depends_on(service):
            needed = set(services[dependency].get("profiles", []))
            assert not needed or needed & own, f"{name} depends on {dependency} of profile {needed}"


def test_ha_profile_settings_name_its_services():
    services, env = _services(), _ha_env()
    assert env["COMPOSE_PROFILES"] == "ha"
    databases = [host.rsplit(":", 1)[0] for host in env["HA_DATABASE_HOSTS"].split(",")]
    sentinels = [host.rsplit(":", 1)[0] for host in env["REDIS_SENTINELS"].split(",")]
    assert databases == ["pg-region1", "pg-region2"]
    assert sentinels == ["sentinel-1", "sentinel-2", "sentinel-3"]
    for name in ["pg-region2", "redis-region2", *sentinels, "failover_watcher"]:
        assert services[name]["profiles"] == ["ha"], name
    # The replica streams as application_name region2, which the primary's synchronous rule names.
    assert "application_name=region2" in services["pg-region2"]["command"][0]
    assert "region2" in env["PG_SYNCHRONOUS_STANDBY_NAMES"]
    assert "${PG_SYNCHRONOUS_STANDBY_NAMES:-}" in services["pg-region1"]["command"]


def test_cluster_profile_runs_three_rabbitmq_nodes_and_two_consumers_on_them():
    services = _services()
    nodes = [f"rabbit-{i}" for i in (1, 2, 3)]
    conf = CLUSTER_CONF.read_text()
    for node in nodes:
        service = services[node]
        assert service["profiles"] == ["cluster"] and service["hostname"] == node
        assert "./deploy/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/20-tier0-cluster.conf:ro" in service["volumes"]
        assert f"= rabbit@{node}" in conf
        assert service["environment"]["ERLANG_COOKIE"].startswith("${RABBITMQ_ERLANG_COOKIE:?")
    assert "rabbitmq_mqtt" in (REPO / "deploy" / "rabbitmq" / "enabled_plugins").read_text()
    assert "mqtt.allow_anonymous = false" in conf
    consumers = {
        name: s
        for name, s in services.items()
        if "run_mqtt_consumer" in str(s.get("command")) and s["environment"].get("TELEMETRY_TRANSPORT") == "rabbitmq"
    }
    assert set(consumers) == {"telemetry-consumer-1", "telemetry-consumer-2"}
    for service in consumers.values():
        assert service["profiles"] == ["cluster"]
        urls = service["environment"]["TELEMETRY_BROKER_URLS"]
        assert all(f"@{node}:5672/" in urls for node in nodes), urls
    # The queue exists before any device publishes (the plugin drops what no queue takes).
    assert "topology_ensure()" in services["telemetry-topology"]["command"]
    for name in ("device-simulator-cluster", *consumers):
        assert services[name]["depends_on"]["telemetry-topology"] == {"condition": "service_completed_successfully"}
    assert set(services["device-simulator-cluster"]["environment"]["MQTT_BROKERS"].split(",")) == {f"{n}:1883" for n in nodes}
    setup = services["rabbit-setup"]["command"][0]
    assert "set_policy --apply-to queues telemetry-quorum '^telemetry$$'" in setup
    # The default transport is unchanged: Mosquitto and its consumer run without a profile.
    assert "profiles" not in services["mosquitto"] and "profiles" not in services["mqtt_consumer"]


def _schema_mappings() -> list[re.Pattern]:
    schemas = Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/plugins/*/priv/schema/*.schema")
    names = {name for path in schemas for name in re.findall(r'\{mapping,\s*"([^"]+)"', path.read_text())}
    return [re.compile("^" + re.sub(r"\\\$[a-z_]+", "[^.]+", re.escape(name)) + "$") for name in names]


def test_cluster_conf_uses_only_settings_rabbitmq_knows():
    """RabbitMQ refuses to boot on an unknown key: check each against the installed broker's schema."""
    mappings = _schema_mappings()
    if not mappings:
        pytest.fail("RabbitMQ's schema files are missing: run `make bootstrap` (Debian package rabbitmq-server)")
    keys = [
        line.split("=", 1)[0].strip()
        for line in CLUSTER_CONF.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert keys
    unknown = [key for key in keys if not any(m.match(key) for m in mappings)]
    assert unknown == []


def test_every_make_run_process_runs_without_a_profile():
    """`docker compose up` runs what `make run` runs (the Procfile), the broker as the `mosquitto` service."""
    procfile = [line.split(":", 1)[0] for line in (REPO / "Procfile").read_text().splitlines() if line.strip()]
    services = _services()
    for process in procfile:
        name = "mosquitto" if process == "broker" else process
        assert name in services and "profiles" not in services[name], process


def _stage(dockerfile: str, name: str) -> str:
    """The instructions of one named build stage (``FROM ... AS name``) up to the next ``FROM``."""
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM )", dockerfile, flags=re.M | re.S)
    assert match, f"no build stage named {name}"
    return match.group(1)


def test_the_app_image_carries_the_verified_model_files(tmp_path):
    """The neural image analyser (the default) needs its model files: a build stage fetches them as bootstrap
    does and the image points ``IMAGES_MODELS_DIR`` at them. No engine builds it here, so the stage's own
    files are laid out as its COPY lines put them and its script runs from them, checking the models that
    bootstrap fetched (a stage missing a file the script needs fails here, not at a user's build)."""
    dockerfile = (REPO / "Dockerfile").read_text()
    stage = _stage(dockerfile, "models")
    workdir = tmp_path / "build"
    for source, target in re.findall(r"^COPY (\S+) (\S+)$", stage, flags=re.M):
        (workdir / target).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / source, workdir / target)
    run = re.search(r"^RUN IMAGES_MODELS_DIR=(\S+) python (scripts/fetch_models\.py)$", stage, flags=re.M)
    assert run, "the models stage runs scripts/fetch_models.py into a folder of its own"
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    copied = re.search(rf"^COPY --from=models {re.escape(run.group(1))} (\S+)$", final, flags=re.M)
    assert copied and f"ENV IMAGES_MODELS_DIR={copied.group(1)}" in final
    checked = subprocess.run(  # noqa: S603 - the project's own script, fixed arguments
        [sys.executable, run.group(2), "--check"],
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "IMAGES_MODELS_DIR": settings.IMAGES_MODELS_DIR},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "model files verified" in checked.stdout
