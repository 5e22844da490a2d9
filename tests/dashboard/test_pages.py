"""Login, logout and the server-rendered dashboard: words, order, staff-only parts."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PANELS = ["Deployment Version", "Site Active Users", "Active Connected Devices", "Site Image Intelligence", "Simulate Failover"]


@pytest.fixture
def signed_in(mosquitto, settings):
    # The broker is up so the health check (and "Application status: Live") is true; no worker
    # process runs in these page tests, so none is expected.
    settings.HEALTH_WORKERS = []

    def sign_in(**user_fields):
        user = UserFactory(**user_fields)
        client = Client()
        client.force_login(user)
        return client, user

    return sign_in


def tab_titles(html: str) -> list[str]:
    return re.findall(r'role="tab"[^>]*><span class="long">([^<]+)</span>', html)


def test_dashboard_needs_a_signed_in_user():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_has_the_wireframe_words():
    html = Client().get(reverse("login")).content.decode()
    for words in ("Enterprise SRE COE - Tier 0 Test Driver", "SRE User:", "Password:", ">Login<", ">Cancel<", "create_sre_user"):
        assert words in html


def test_login_with_a_password_then_logout():
    UserFactory(username="admin1")
    client = Client()
    bad = client.post(reverse("login"), {"username": "admin1", "password": "wrong"})
    assert bad.status_code == 200
    assert "did not match" in bad.content.decode()
    good = client.post(reverse("login"), {"username": "admin1", "password": "correct-horse-battery"})
    assert good.status_code == 302 and good["Location"] == "/"
    assert "SRE User: admin1" in client.get("/").content.decode()
    out = client.post(reverse("logout"))
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_staff_dashboard_shows_the_five_panels_in_the_wireframe_order(signed_in):
    client, _user = signed_in(username="ADMIN1", is_staff=True)
    html = client.get("/").content.decode()
    assert "Enterprise SRE COE - Tier 0 Test Driver" in html
    assert "SRE User: ADMIN1" in html
    assert re.search(r'Application status: <strong id="app-status"[^>]*>Live</strong>', html)
    assert tab_titles(html) == PANELS
    assert 'id="panel-failover"' in html
    assert "v1.0.0057_region1" in html
    assert "Describe Image Context" in html
    assert "Site Active Users Data From Cache:" in html
    assert "Site Active Devices Data From MQTT:" in html


def test_non_staff_never_sees_the_failover_panel(signed_in):
    client, _ = signed_in(is_staff=False)
    html = client.get("/").content.decode()
    assert tab_titles(html) == PANELS[:4]
    assert 'id="panel-failover"' not in html
    assert "fo-start" not in html


def test_status_says_what_is_failing_when_a_part_is_down(settings, db):
    settings.MQTT_PORT = 1  # nothing listens there
    settings.HEALTH_WORKERS = []
    client = Client()
    client.force_login(UserFactory())
    html = client.get("/").content.decode()
    assert "Degraded (failing: mqtt)" in html


def test_charting_library_is_served_from_static_files_with_its_licence(signed_in):
    client, _ = signed_in()
    html = client.get("/").content.decode()
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    chart = finders.find("vendor/chartjs/chart.umd.min.js")
    assert chart and "Chart.js v4" in Path(chart).read_text(encoding="utf-8")[:200]
    assert finders.find("vendor/chartjs/LICENSE.md")
    assert finders.find("dashboard/dashboard.js")


def test_data_goes_into_the_page_as_json_not_markup(signed_in):
    client, _ = signed_in(username="o'brien<script>")
    html = client.get("/").content.decode()
    assert "o'brien<script>" not in html
    assert 'id="dashboard-config" type="application/json"' in html


def test_tabs_are_links_to_the_panels_so_they_work_before_the_script(signed_in):
    client, _ = signed_in(is_staff=True)
    html = client.get("/").content.decode()
    for key in ("version", "users", "devices", "images"):
        assert f'<a href="#panel-{key}" role="tab"' in html
        assert f'id="panel-{key}"' in html
    assert '<script type="module" src="/static/dashboard/dashboard.js">' in html


def test_no_pipeline_not_installed_scaffolding_is_left(signed_in):
    client, _ = signed_in(is_staff=True)
    html = client.get("/").content.decode()
    assert "not available yet" not in html and "data-unavailable" not in html
    for name in ("dashboard.js", "lib.js", "live.js", "tabs.js", *(f"panels/{p}.js" for p in PANEL_MODULES)):
        source = Path(finders.find(f"dashboard/{name}")).read_text(encoding="utf-8")
        assert "setAvailable" not in source and "rto_s" not in source and "duration_ms" not in source
        assert "active_region" not in source
        assert len(source.splitlines()) < 400


PANEL_MODULES = ("status", "users", "devices", "images", "chat", "failover", "alarms")


def test_every_event_type_the_page_handles_is_relayed_by_the_websocket():
    from dashboard.consumers import LiveConsumer

    source = Path(finders.find("dashboard/dashboard.js")).read_text(encoding="utf-8")
    handled = re.findall(r'^\s*"([a-z]+\.[a-z]+)":', source, flags=re.MULTILINE)
    assert "telemetry.update" in handled
    # Channels dispatches "a.b" to the consumer's a_b method.
    assert [t for t in handled if not callable(getattr(LiveConsumer, t.replace(".", "_"), None))] == []


def test_the_browser_icon_is_served_to_anyone_from_the_site_root(client):
    """Browsers ask every page's host for /favicon.ico (the admin's and the API's pages too); a 404 there logged a
    warning on each page view."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    icon = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
