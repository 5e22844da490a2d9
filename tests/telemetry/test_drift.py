"""Schema drift per device type: new metrics, stopped metrics, unknown states, new types."""

import json
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site as admin_site
from django.db import connection
from django.test.utils import CaptureQueriesContext

from telemetry.models import DeadLetter, SchemaSeen
from telemetry.services import RawMessage, readings_ingest
from tests.telemetry.conftest import reading_payload, recent, topic_for

pytestmark = pytest.mark.django_db


def _ingest(*payloads: dict):
    return readings_ingest(messages=[RawMessage(topic_for(p, "og/field"), json.dumps(p).encode()) for p in payloads])


def _types(client) -> dict:
    response = client.get("/api/device-types")
    assert response.status_code == 200
    return {t["device_type"]: t for t in response.json()["results"]}


def test_new_metrics_unknown_states_and_new_types_are_shown(api_client):
    template = reading_payload()
    firmware_change = dict(template["metrics"], blade_pitch_deg=12.5)
    _ingest(
        reading_payload(timestamp_utc=recent(3)),
        reading_payload(timestamp_utc=recent(2), metrics=firmware_change, status={"state": "Degraded"}),
        reading_payload(timestamp_utc=recent(1), device_type="solar_inverter", device_id="INV-1", metrics={"dc_v": 600}),
    )
    types = _types(api_client)
    turbine = types["turbine"]
    assert turbine["readings"] == 2 and turbine["known"]
    assert turbine["states"]["OK"] == 1 and turbine["states"]["UNKNOWN"] == 1
    assert [m["name"] for m in turbine["new_metrics"]] == ["blade_pitch_deg"]
    assert turbine["new_metrics"][0]["count"] == 1
    assert [s["name"] for s in turbine["unknown_states"]] == ["Degraded"]
    assert turbine["missing_metrics"] == []
    inverter = types["solar_inverter"]
    assert not inverter["known"] and inverter["readings"] == 1 and inverter["new_metrics"][0]["name"] == "dc_v"
    # Known types that never reported are listed, with nothing to call missing.
    assert types["thermal_engine"]["readings"] == 0 and types["thermal_engine"]["missing_metrics"] == []


def test_listed_metrics_that_stopped_arriving_are_shown(api_client, settings):
    metrics = reading_payload()["metrics"]
    _ingest(reading_payload(timestamp_utc=recent(5)))
    # The firmware update drops two metrics; an hour later the type still reports without them.
    SchemaSeen.objects.update(first_seen=SchemaSeen.objects.get(kind="state").first_seen - timedelta(hours=1))
    SchemaSeen.objects.update(last_seen=SchemaSeen.objects.get(kind="state").last_seen - timedelta(hours=1))
    newer = {k: v for k, v in metrics.items() if k not in ("no_x_ppm", "fuel_flow_kg_h")}
    _ingest(reading_payload(timestamp_utc=recent(1), metrics=newer))
    turbine = _types(api_client)["turbine"]
    assert [m["name"] for m in turbine["missing_metrics"]] == ["fuel_flow_kg_h", "no_x_ppm"]
    assert turbine["missing_metrics"][0]["count"] == 1 and turbine["missing_metrics"][0]["last_seen"]
    settings.TELEMETRY_DRIFT_STALE_S = 4 * 3600
    assert _types(api_client)["turbine"]["missing_metrics"] == []


def test_the_drift_view_needs_a_login_and_counts_only_stored_readings(anon_client, api_client):
    assert anon_client.get("/api/device-types").status_code in (401, 403)
    _ingest(reading_payload(metrics={"rpm": "fast"}))
    assert DeadLetter.objects.count() == 1
    assert _types(api_client)["turbine"]["readings"] == 0


def test_one_upsert_per_batch():
    batch = [reading_payload(device_id=f"TURB-{i}", timestamp_utc=recent(i)) for i in range(200)]
    with CaptureQueriesContext(connection) as queries:
        _ingest(*batch)
    assert len([q for q in queries.captured_queries if "telemetry_schema_seen" in q["sql"]]) == 1
    assert SchemaSeen.objects.get(kind="state", name="OK").count == 200


def test_the_admin_lists_the_drift(staff_user, client):
    _ingest(reading_payload(metrics={"new_metric": 1.0}))
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    assert SchemaSeen in admin_site._registry
    page = client.get("/admin/telemetry/schemaseen/")
    assert page.status_code == 200 and b"new_metric" in page.content
