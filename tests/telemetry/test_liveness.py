"""Device liveness: last_seen from arrival, online within the window, offline recorded once."""

import json
from datetime import timedelta
from itertools import islice

import pytest
from django.core.management import call_command
from django.utils import timezone

from devtools.device_simulator import Fleet
from telemetry.liveness import devices_mark_offline
from telemetry.models import DeviceState
from telemetry.services import RawMessage, readings_ingest
from tests.telemetry.conftest import reading_payload, topic_for

pytestmark = pytest.mark.django_db


def ingest(**overrides):
    payload = reading_payload(**overrides)
    readings_ingest(messages=[RawMessage(topic_for(payload, "og/field"), json.dumps(payload).encode())])


def _weeks_behind(second: int) -> str:
    """A device clock three weeks behind (still within the retention), at ``second`` past a minute."""
    stamp = (timezone.now() - timedelta(weeks=3)).replace(second=second, microsecond=0)
    return stamp.isoformat().replace("+00:00", "Z")


def silence(*device_ids, seconds: float):
    DeviceState.objects.filter(device_id__in=device_ids).update(last_seen=timezone.now() - timedelta(seconds=seconds))


def test_a_device_that_just_reported_is_online_with_its_arrival_time(api_client):
    before = timezone.now()
    # The device's own clock is weeks behind: liveness goes by arrival, not by it.
    ingest(device_id="TURB-1", timestamp_utc=_weeks_behind(0))
    body = api_client.get("/api/devices/TURB-1").json()
    assert body["online"] is True
    assert body["offline_since"] is None
    assert timezone.datetime.fromisoformat(body["last_seen"]) >= before
    listed = api_client.get("/api/devices").json()["results"][0]
    assert (listed["online"], listed["last_seen"][:19]) == (True, body["last_seen"][:19])


def test_an_old_reading_still_counts_as_a_sign_of_life():
    ingest(device_id="TURB-1", timestamp_utc=_weeks_behind(9))
    silence("TURB-1", seconds=10_000)
    ingest(device_id="TURB-1", timestamp_utc=_weeks_behind(1))
    state = DeviceState.objects.get(device_id="TURB-1")
    assert state.timestamp_utc.second == 9  # the state is not rolled back ...
    assert timezone.now() - state.last_seen < timedelta(seconds=60)  # ... but the device was seen


def test_silence_is_recorded_once_per_device_and_once_per_site(settings, api_client):
    settings.DEVICE_OFFLINE_AFTER_S = 60
    for device_id, site in (("TURB-1", "WY-ALPHA"), ("TURB-2", "WY-ALPHA"), ("TURB-3", "TX-EAGLE")):
        ingest(device_id=device_id, site_id=site)
    silence("TURB-1", seconds=120)
    first = devices_mark_offline()
    assert [d["device_id"] for d in first.devices] == ["TURB-1"] and first.sites == []
    assert devices_mark_offline().devices == []  # recorded once
    silence("TURB-2", seconds=120)
    second = devices_mark_offline()
    assert [d["device_id"] for d in second.devices] == ["TURB-2"]
    assert second.sites == ["WY-ALPHA"]  # the whole site went silent: said once
    sites = {s["site_id"]: s for s in api_client.get("/api/sites").json()["results"]}
    assert (sites["WY-ALPHA"]["devices"], sites["WY-ALPHA"]["online"], sites["WY-ALPHA"]["offline"]) == (2, 0, 2)
    assert (sites["TX-EAGLE"]["online"], sites["TX-EAGLE"]["offline"]) == (1, 0)
    offline = api_client.get("/api/devices", {"online": "false"}).json()
    assert sorted(d["device_id"] for d in offline["results"]) == ["TURB-1", "TURB-2"]
    assert api_client.get("/api/devices/TURB-1").json()["offline_since"] is not None


def test_a_device_that_speaks_again_is_online_and_can_go_silent_again(settings):
    settings.DEVICE_OFFLINE_AFTER_S = 60
    ingest(device_id="TURB-1")
    silence("TURB-1", seconds=120)
    assert len(devices_mark_offline().devices) == 1
    ingest(device_id="TURB-1", timestamp_utc=timezone.now().isoformat())
    assert DeviceState.objects.get(device_id="TURB-1").offline_since is None
    silence("TURB-1", seconds=120)
    assert len(devices_mark_offline().devices) == 1


def test_the_monitor_command_runs_a_round(settings):
    settings.DEVICE_OFFLINE_AFTER_S = 60
    ingest(device_id="TURB-1")
    silence("TURB-1", seconds=120)
    call_command("monitor_devices", "--once")
    assert DeviceState.objects.get(device_id="TURB-1").offline_since is not None


def test_the_simulator_visits_every_device_in_rotation_and_watched_ones_often():
    fleet = Fleet(devices=40, seed=1)
    seen = [device.device_id for device, _payload in islice(fleet.messages(), 40)]
    assert sorted(seen) == sorted(d.device_id for d in fleet.devices)  # one full period: everyone once
    watched = fleet.watched(1)
    assert len(watched) == len({d.site_id for d in fleet.devices})
    stream = fleet.messages(watch_per_site=1, watch_interval_s=0.0)
    first = [device.device_id for device, _payload in islice(stream, len(watched))]
    assert first == [d.device_id for d in watched]
