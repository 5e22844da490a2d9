"""The project's Mosquitto with its password file and ACL, tested against the real broker."""

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command

from devtools.broker import MosquittoProcess, render_config
from telemetry.broker_auth import credentials_read, reload_broker
from tests.support.waiting import wait_until

PREFIX = "og/field"


def client(username: str | None, password: str | None, port: int) -> tuple[mqtt.Client, mqtt.ReasonCode]:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311)
    if username:
        c.username_pw_set(username, password)
    connected, result = threading.Event(), {}

    def on_connect(_c, _u, _flags, reason_code, _props):
        result["rc"] = reason_code
        connected.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert connected.wait(10), "no CONNACK"
    return c, result["rc"]


def provision(auth_dir, *args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("mqtt_credentials", *args, "--auth-dir", str(auth_dir), "--pid-file", str(auth_dir / "none.pid"), stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines() if line.startswith("MQTT_PASSWORD="))
    return lines["MQTT_PASSWORD"].split()[0]


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory):
    auth_dir = tmp_path_factory.mktemp("mqtt-auth")
    passwords = {
        "WY-ALPHA": provision(auth_dir, "site", "WY-ALPHA"),
        "TX-EAGLE": provision(auth_dir, "site", "TX-EAGLE"),
        "consumer": provision(auth_dir, "consumer", "consumer"),
    }
    broker = MosquittoProcess(data_dir=tmp_path_factory.mktemp("mqtt-data"), auth_dir=auth_dir).start()
    yield broker, passwords, auth_dir
    broker.stop()


def test_a_site_credential_cannot_publish_to_another_sites_topic(secured_broker):
    broker, passwords, _ = secured_broker
    consumer, rc = client("consumer", passwords["consumer"], broker.port)
    assert rc == 0
    received: list[str] = []
    got_own = threading.Event()

    def on_message(_c, _u, message):
        received.append(message.topic)
        if message.topic.endswith("/own"):
            got_own.set()

    consumer.on_message = on_message
    subscribed = threading.Event()
    consumer.on_subscribe = lambda *_a: subscribed.set()
    consumer.subscribe(f"{PREFIX}/#", qos=1)
    assert subscribed.wait(10)

    alpha, rc = client("WY-ALPHA", passwords["WY-ALPHA"], broker.port)
    assert rc == 0
    # In order, QoS 1 from one client: once "own" arrives, the forged one would have too.
    alpha.publish(f"{PREFIX}/TX-EAGLE/turbine/forged", b"{}", qos=1).wait_for_publish(10)
    alpha.publish(f"{PREFIX}/WY-ALPHA/turbine/own", b"{}", qos=1).wait_for_publish(10)
    assert got_own.wait(10), received
    assert received == [f"{PREFIX}/WY-ALPHA/turbine/own"]

    # A site may not read the others' telemetry either.
    spy = []
    alpha.on_message = lambda _c, _u, m: spy.append(m.topic)
    alpha.subscribe(f"{PREFIX}/#", qos=1)
    eagle, _ = client("TX-EAGLE", passwords["TX-EAGLE"], broker.port)
    got_own.clear()
    eagle.publish(f"{PREFIX}/TX-EAGLE/turbine/own", b"{}", qos=1).wait_for_publish(10)
    assert got_own.wait(10)
    assert spy == []
    for c in (consumer, alpha, eagle):
        c.loop_stop()
        c.disconnect()


def test_wrong_or_missing_credentials_are_refused(secured_broker):
    broker, passwords, _ = secured_broker
    _, rc = client(None, None, broker.port)
    assert rc != 0 and rc.is_failure
    _, rc = client("WY-ALPHA", passwords["TX-EAGLE"], broker.port)
    assert rc != 0 and rc.is_failure


def _connects(username, password, port) -> bool:
    c, rc = client(username, password, port)
    c.loop_stop()
    c.disconnect()
    return not rc.is_failure


def test_a_new_site_is_a_command_away_and_revoking_it_locks_it_out(secured_broker):
    broker, _, auth_dir = secured_broker
    pid_file = broker.data_dir / "mosquitto.pid"
    password = provision(auth_dir, "site", "AK-NORTH")
    # The running broker rereads its files on SIGHUP (what the command sends when it finds the pid file).
    assert reload_broker(pid_file)
    wait_until(lambda: _connects("AK-NORTH", password, broker.port), 10, message="the new site never got in")
    call_command("mqtt_credentials", "revoke", "AK-NORTH", "--auth-dir", str(auth_dir), "--pid-file", str(pid_file))
    assert "AK-NORTH" not in credentials_read(auth_dir)
    wait_until(lambda: not _connects("AK-NORTH", password, broker.port), 10, message="the revoked site still gets in")


def test_an_anonymous_broker_is_only_allowed_on_loopback(tmp_path):
    with pytest.raises(ValueError, match="anonymous"):
        render_config(port=1883, data_dir=tmp_path, bind="0.0.0.0")  # noqa: S104 - the test checks that the broker refuses this
    assert "allow_anonymous true" in render_config(port=1883, data_dir=tmp_path).read_text()
