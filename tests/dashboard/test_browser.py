"""The dashboard end to end in Debian's Chromium, driven by Playwright.

The real web server (``manage.py run_web``: uvicorn) and the real MQTT consumer run as subprocesses on
the test database, sharing live events through Redis under a prefix of this
module's own. Telemetry goes in over MQTT; the page must show it without a
reload, survive a server restart, and keep staff-only actions from others.
Screenshots of every panel, at a desktop's and a phone's width, go to
artifacts/screenshots/ (desktop-N-panel.png, phone-N-panel.png, and a few more).
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devtools.device_publisher import fleet_publish
from devtools.device_simulator import Fleet
from tests.factories import UserFactory
from tests.support.processes import free_port, wait_for_http
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

REPO = Path(settings.BASE_DIR)
CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "artifacts" / "screenshots"
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's
LAPTOP = {"width": 1366, "height": 900}
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


class Stack:
    """Daphne and run_mqtt_consumer on the test database, with their logs."""

    def __init__(self, tmp: Path, mqtt_port: int):
        db = connection.settings_dict
        self.tmp = tmp
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.topic_prefix = f"e2e{uuid.uuid4().hex[:8]}/og/field"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.dashboard.e2e_settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MQTT_PORT": str(mqtt_port),
            "MQTT_TOPIC_PREFIX": self.topic_prefix,
            "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "CHANNEL_LAYER_PREFIX": f"tier0e2e{uuid.uuid4().hex[:8]}",
            "TELEMETRY_LIVE_INTERVAL_S": "0.5",
            # Devices fall silent, and rollups refresh, within the test's patience.
            "DEVICE_OFFLINE_AFTER_S": "6",
            "ROLLUP_INTERVAL_S": "2",
            "DB_CONN_MAX_AGE": "0",
            # The sessions pipeline's Redis summary key, of this test's own.
            "SESSIONS_SRE_USER_KEY": f"SRE_User:e2e:{uuid.uuid4().hex[:8]}",
            "SESSIONS_QUEUE": f"e2e_users_{uuid.uuid4().hex[:8]}",
            # No failover topology unless a test starts one: a developer's .run/ha must not leak in.
            "HA_DATA_DIR": str(tmp / "no-ha"),
            # Only the workers a test starts could be running: health expects none ("Live").
            "HEALTH_WORKERS": "",
        }
        self.web: subprocess.Popen | None = None
        self.processes: list[subprocess.Popen] = []

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own commands
        self.processes.append(process)
        return process

    def start_web(self) -> None:
        # The server `make run` starts (uvicorn through run_web), one worker: the page must work on what users run.
        self.web = self.start_command("run_web", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
        wait_for_http(f"{self.base_url}/accounts/login/", self.web, log=lambda: self.log("web"))

    def stop_web(self) -> None:
        """SIGTERM, and SIGKILL if the server is still draining after 10 s: either way the page loses its server."""
        self.web.terminate()
        try:
            self.web.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.web.kill()
            self.web.wait(timeout=10)

    def start_command(self, name: str, *args: str) -> subprocess.Popen:
        return self._spawn(name, [sys.executable, "manage.py", name, *args])

    def start_mqtt_consumer(self) -> None:
        process = self.start_command("run_mqtt_consumer", "--client-id", f"e2e-{uuid.uuid4().hex[:8]}", "--metrics-port", "0")
        # Readings published before the first subscription would be lost.
        self.wait_for_log("run_mqtt_consumer", '"mqtt connected"', process)

    def wait_for_log(self, name: str, needle: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
        def logged() -> bool:
            assert process.poll() is None, f"{name} exited:\n{self.log(name)}"
            return needle in self.log(name)

        wait_until(logged, timeout_s, 0.1, f"{name} never logged {needle}")

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-20000:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/bootstrap.sh does it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread, which Django takes
    # for an async context; the ORM calls here are plain sequential code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def stack(mosquitto, settings, tmp_path):
    stack = Stack(tmp_path, mosquitto.port)
    settings.MQTT_TOPIC_PREFIX = stack.topic_prefix
    try:
        # A start that fails half-way still stops what it started.
        stack.start_web()
        stack.start_mqtt_consumer()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def screenshots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def sign_in(browser, stack: Stack, username: str, viewport=LAPTOP):
    context = browser.new_context(viewport=viewport, base_url=stack.base_url)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Login')")
    page.wait_for_selector("[data-testid=sre-user]")
    # The page script has loaded and bound its handlers (tabs work before it too: they are links).
    page.wait_for_selector("body[data-ready=true]", state="attached")
    return page


def shoot(page, path: Path) -> None:
    page.screenshot(path=path, full_page=True)


def shoot_every_panel(page, prefix: str) -> None:
    """desktop-1-version.png … or phone-…: every panel the user may see, at the page's current width."""
    for index, tab in enumerate(page.locator(".tab").evaluate_all("(tabs) => tabs.map((t) => t.dataset.panel)"), start=1):
        page.click(f"#tab-{tab}")
        page.wait_for_selector(f"#panel-{tab}.active")
        page.evaluate("() => window.scrollTo(0, 0)")
        shoot(page, SHOTS / f"{prefix}-{index}-{tab}.png")


def text_is(page, element_id: str, expected: str, timeout_ms: int = 20000) -> None:
    page.wait_for_function(
        "([id, want]) => document.getElementById(id).textContent.trim() === want", arg=[element_id, expected], timeout=timeout_ms
    )


def number_at_least(page, element_id: str, minimum: int, timeout_ms: int = 20000) -> None:
    page.wait_for_function(
        "([id, min]) => Number(document.getElementById(id).textContent.replace(/,/g, '')) >= min",
        arg=[element_id, minimum],
        timeout=timeout_ms,
    )


def publish(devices: int, count: int, seed: int) -> None:
    fleet_publish(Fleet(devices=devices, seed=seed, fault_rate=0.2), count=count, client_id=f"e2e-pub-{uuid.uuid4().hex[:6]}")


@contextlib.contextmanager
def keep_reporting(devices: int, seed: int):
    """The first ``devices`` devices report once a second each until the block ends."""
    stop = threading.Event()
    kwargs = {"fleet": Fleet(devices=devices, seed=seed), "rate": devices, "stop": stop, "client_id": f"e2e-keep-{seed}"}
    thread = threading.Thread(target=fleet_publish, kwargs=kwargs, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def tab_bar_rows(page) -> int:
    return page.evaluate("() => new Set([...document.querySelectorAll('.tab')].map((t) => t.getBoundingClientRect().top)).size")


def test_sign_in_live_devices_liveness_history_reconnect_and_screenshots(chromium, stack, screenshots):
    from telemetry.models import DeviceState

    stack.start_command("monitor_devices", "--interval", "1")
    UserFactory(username="ADMIN1", is_staff=True)
    page = sign_in(chromium, stack, "ADMIN1")
    assert page.inner_text("[data-testid=sre-user]") == "SRE User: ADMIN1"
    assert page.inner_text("#app-status") == "Live"
    page.wait_for_selector("#live-link[data-state=open]", timeout=10000)
    assert page.locator(".tab").all_inner_texts() == [
        "Deployment Version",
        "Site Active Users",
        "Active Connected Devices",
        "Site Image Intelligence",
        "Simulate Failover",
    ]
    assert tab_bar_rows(page) == 1
    page.click("#tab-version")
    assert page.inner_text("#site-version").startswith("v1.0.0057_region")

    # No HA topology here: the failover panel says how to start one instead of showing errors.
    page.click("#tab-failover")
    page.wait_for_selector("[data-testid=fo-hint]", state="visible")
    assert "make run-ha" in page.inner_text("[data-testid=fo-hint]")
    assert not page.locator("[data-testid=fo-start]").is_visible()
    assert "unreachable" not in page.inner_text("#panel-failover")

    # A new database: the empty image panel says which command fills it.
    page.click("#tab-images")
    page.wait_for_selector("#gallery [data-testid=empty-guidance]")
    assert "manage.py scan_images" in page.inner_text("#gallery [data-testid=empty-guidance]")

    page.click("#tab-devices")
    # 120 devices report; the first 40 send 30 readings each (drill-down charts).
    publish(120, 120, seed=11)
    number_at_least(page, "msgs-stored", 120)
    publish(40, 1200, seed=12)
    number_at_least(page, "msgs-stored", 1320)
    assert DeviceState.objects.count() == 120
    page.wait_for_selector("#sites-table tbody tr td")
    page.wait_for_selector("#alerts li.WARN, #alerts li.ALERT", timeout=20000)
    # From now on only those 40 keep reporting (each every second): the other 80 fall silent.
    with keep_reporting(40, seed=13):
        page.wait_for_selector("#alerts li.OFFLINE", timeout=60000)
        text_is(page, "devices-total", "40 online now, of 120 seen", timeout_ms=30000)
        page.select_option("[data-testid=online-filter]", "false")
        page.wait_for_function("() => /offline, last seen/.test(document.getElementById('device-list').textContent)")
        page.select_option("[data-testid=online-filter]", "true")
        page.wait_for_function(
            "() => document.querySelector('#device-list li button') && !/offline, last seen/.test(document.getElementById('device-list').textContent)"
        )
        # Drill down: a chart of more than 20 raw points, then 24 h from the per-minute rollups.
        page.click("#device-list li button >> nth=0")
        page.wait_for_function("() => Number(document.getElementById('detail-meta').dataset.points) > 20")
        assert page.get_attribute("#detail-meta", "data-source") == "raw"
        assert page.locator("#device-chart").is_visible()
        page.click("#range-buttons button[data-range='24h']")
        page.wait_for_function(
            "() => { const m = document.getElementById('detail-meta'); return m.dataset.source === 'minute' && Number(m.dataset.points) > 0; }",
            timeout=45000,
        )
        assert "per-minute rollups" in page.inner_text("#detail-meta")

        # One socket all along (an idle channel-layer read must not drop it)...
        assert page.evaluate("() => window.tier0Dashboard.connects()") == 1
        # ...until a server restart: the page reconnects by itself and events flow again.
        stack.stop_web()
        page.wait_for_selector("#live-link[data-state=closed]", timeout=10000)
        stack.start_web()
        page.wait_for_selector("#live-link[data-state=open]", timeout=20000)
        before = int(page.inner_text("#msgs-stored").replace(",", ""))
        publish(40, 300, seed=14)
        number_at_least(page, "msgs-stored", before + 300)
        page.click("#tab-devices")
        page.click("#device-list li button >> nth=0")
        page.wait_for_function("() => Number(document.getElementById('detail-meta').dataset.points) > 0")
        shoot_every_panel(page, "desktop")

        # The same page at a phone's width: one row of tabs, nothing scrolls sideways.
        page.set_viewport_size(PHONE)
        page.click("#tab-devices")
        assert tab_bar_rows(page) == 1
        assert page.evaluate("() => document.querySelector('.tabs').getBoundingClientRect().height") < 60
        # Charts redraw for the new width a frame or two after the resize: wait for the layout to settle.
        page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth + 1", timeout=10000)
        shoot_every_panel(page, "phone")
    page.context.close()


def test_tabs_work_before_the_page_script_has_loaded(chromium, stack):
    UserFactory(username="early", is_staff=True)
    context = chromium.new_context(viewport=LAPTOP, base_url=stack.base_url)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", "early")
    page.fill("#id_password", PASSWORD)
    # The page's own script never arrives: the tabs still switch panels (they are #anchor links).
    page.route("**/static/dashboard/**/*.js", lambda route: route.abort())
    page.click("button:has-text('Login')")
    page.wait_for_selector("[data-testid=sre-user]")
    assert page.locator("#panel-version").is_visible()
    page.click("#tab-failover")
    page.wait_for_selector("#panel-failover", state="visible")
    assert not page.locator("#panel-version").is_visible()
    context.close()


def test_staff_only_failover_is_hidden_from_and_refused_to_others(chromium, stack, screenshots):
    UserFactory(username="viewer1", is_staff=False)
    page = sign_in(chromium, stack, "viewer1", viewport=PHONE)
    assert "Simulate Failover" not in page.locator(".tab").all_inner_texts()
    assert page.locator("#panel-failover").count() == 0
    assert page.locator("[data-testid=traffic-btn]").count() == 0
    shoot(page, screenshots / "phone-0-viewer-dashboard.png")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post("/api/failover/region2", headers={"X-CSRFToken": token, "Referer": stack.base_url + "/"})
    assert response.status == 403
    page.context.close()


def test_login_page_and_unauthenticated_socket(chromium, stack, screenshots):
    context = chromium.new_context(viewport=LAPTOP, base_url=stack.base_url)
    page = context.new_page()
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong")
    page.click("button:has-text('Login')")
    page.wait_for_selector("text=did not match")
    shoot(page, screenshots / "desktop-0-login.png")
    # A websocket without a session is refused at the handshake.
    refused = page.evaluate(
        """() => new Promise((done) => {
            const ws = new WebSocket(`ws://${location.host}/ws/live/`);
            ws.onopen = () => done(false);
            ws.onclose = () => done(true);
        })"""
    )
    assert refused is True
    context.close()


def test_users_appear_after_rabbitmq_events(chromium, stack, settings, screenshots):
    from sessions_app.amqp import topology_delete, topology_ensure
    from sessions_app.models import UserSession
    from sessions_app.selectors import session_summary

    queue = stack.env["SESSIONS_QUEUE"]
    settings.SESSIONS_SRE_USER_KEY = stack.env["SESSIONS_SRE_USER_KEY"]
    topology_ensure(queue=queue)
    try:
        consumer = stack.start_command("run_rabbitmq_consumer", "--queue", queue, "--metrics-port", "0")
        UserFactory(username="ADMIN2", is_staff=True)
        page = sign_in(chromium, stack, "ADMIN2")
        page.click("#tab-users")
        page.wait_for_function("() => /Nobody is signed on/.test(document.getElementById('users-table').textContent)")
        # The wireframe's button: the sessions pipeline's simulator, through RabbitMQ.
        page.click("[data-testid=traffic-btn]")
        page.wait_for_function("() => /Simulating 100 users/.test(document.getElementById('traffic-status').textContent)")
        wait_until(lambda: UserSession.objects.count() > 0, message="no sessions stored by the consumer")
        assert consumer.poll() is None, stack.log("run_rabbitmq_consumer")
        # The page shows what the database holds, without a reload.
        wait_until(
            lambda: (
                page.inner_text("#users-concurrent") == str(session_summary()["concurrent_users"])
                and page.inner_text("#users-concurrent") != "0"
            ),
            message="the page's concurrent users never matched the database",
        )
        # One row per user, each with its own time since login.
        page.wait_for_selector("#users-table tbody tr:nth-child(2)")
        rows = page.locator("#users-table tbody tr").all_inner_texts()
        assert "Nobody" not in rows[0]
        assert all(re.search(r"\d+ (s|min)", row) for row in rows), rows
        shoot(page, screenshots / "desktop-2-users-with-traffic.png")
        page.context.close()
    finally:
        topology_delete(queue=queue)


def test_site_images_gallery_filters_and_word_cloud(chromium, stack, settings, screenshots):
    from django.core.management import call_command

    from imaging.records import compliance_view
    from imaging.selectors import image_get, image_list, images_summary

    call_command("scan_images", str(settings.SEED_DATA_DIR / "images"), "--offline", stdout=open(os.devnull, "w"))  # noqa: SIM115
    total, _ = image_list(filters={}, limit=1)
    without_hat, _ = image_list(filters={"has_hard_hat": False}, limit=1)
    assert total > 0
    UserFactory(username="ADMIN3", is_staff=True)
    page = sign_in(chromium, stack, "ADMIN3", viewport=DESKTOP)
    page.click("#tab-images")
    # A paged gallery: 12 a page, so the question box stays above the fold.
    page.wait_for_function("(n) => document.querySelectorAll('#gallery .card').length === n", arg=min(total, 12))
    box = page.locator("#chat-input").bounding_box()
    assert box and box["y"] + box["height"] <= DESKTOP["height"], box
    if total > 12:
        assert page.inner_text("#gallery-page").startswith(f"Page 1 of {-(-total // 12)}")
        page.click("#gallery-next")
        page.wait_for_function("() => /^Page 2 of/.test(document.getElementById('gallery-page').textContent)")
        page.wait_for_function("(n) => document.querySelectorAll('#gallery .card').length === n", arg=min(total - 12, 12))
    # Every card carries its compliance: a score, or no people in view.
    cards = page.locator("#gallery .card")
    for i in range(cards.count()):
        assert "Compliance" in cards.nth(i).inner_text() or "No people in view" in cards.nth(i).inner_text()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery .card img')].every((i) => i.complete && i.naturalWidth > 0)"
    )
    page.select_option("#image-filter select[name=has_hard_hat]", "false")
    page.wait_for_function("(n) => document.querySelectorAll('#gallery .card').length === n", arg=min(without_hat, 12))
    page.select_option("#image-filter select[name=has_hard_hat]", "")
    # Hard hats per site, drawn: per site with people in view, the bars add up to its images with people.
    summary = images_summary()
    sites = [s for s in summary["by_site"] if s["images_with_people"]]
    page.wait_for_function("(n) => document.getElementById('images-site-chart').dataset.sites === String(n)", arg=len(sites))
    bars = page.evaluate(
        "() => { const c = Chart.getChart('images-site-chart'); return c.data.labels.map((label, i) =>"
        " [label, c.data.datasets.reduce((sum, d) => sum + d.data[i], 0)]); }"
    )
    assert [(label.split(" · ")[0], total) for label, total in bars] == [(s["site_id"], s["images_with_people"]) for s in sites]
    # The images the analyser was not sure of are counted, shown on request, and say what is unknown on the card.
    unsure, _ = image_list(filters={"uncertain": True}, limit=1)
    assert unsure > 0  # the seed scan leaves some judgements unknown (equipment, a small worker's hat)
    assert page.inner_text("#images-review-count") == f"{unsure} image{'s' if unsure != 1 else ''}"
    page.click("#images-review-show")
    page.wait_for_function("(n) => document.querySelectorAll('#gallery .card').length === n", arg=min(unsure, 12))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#gallery .card')].every((c) => c.querySelector('.badge.unsure'))"
    )
    # Staff settle the first one on its card: every unknown judgement reviewed "yes"; it leaves the list to review.
    first = page.locator("#gallery .card").first
    image_id = first.get_attribute("data-image-id")
    unknown = compliance_view(image_get(image_id=image_id))["uncertain"]
    first.locator(".review summary").click()
    for flag in unknown:
        first.locator(f".review-form select[name={flag}]").select_option("true")
    first.locator(".review-form button[type=submit]").click()
    left = unsure - 1
    page.wait_for_function(
        "(id) => ![...document.querySelectorAll('#gallery .card')].some((c) => c.dataset.imageId === id)", arg=image_id
    )
    page.wait_for_function("(n) => document.querySelectorAll('#gallery .card').length === n", arg=min(left, 12))
    reviewed = image_get(image_id=image_id)
    assert reviewed["reviewed_by"] == "ADMIN3" and compliance_view(reviewed)["uncertain"] == []
    assert all(reviewed["review"][flag] is True for flag in unknown)
    if left:
        page.wait_for_function(
            "(text) => document.getElementById('images-review-count').textContent === text",
            arg=f"{left} image{'s' if left != 1 else ''}",
        )
    page.select_option("#image-filter select[name=uncertain]", "")
    page.wait_for_function("(n) => document.querySelectorAll('#gallery .card').length === n", arg=min(total, 12))
    page.click("#wordcloud-btn")
    page.wait_for_function(
        "() => { const i = document.getElementById('wordcloud-img'); return i.complete && i.naturalWidth > 0; }"
    )
    page.click("#images-summary summary")
    shoot(page, screenshots / "desktop-4-images-scanned.png")
    page.set_viewport_size(PHONE)
    page.evaluate("() => window.scrollTo(0, 0)")
    shoot(page, screenshots / "phone-4-images-scanned.png")
    page.context.close()


def access_log(path: Path) -> None:
    """A small access log whose error-400 leader is known: 10.20.30.7 (5), then 10.20.30.8 (2)."""
    lines = []
    for second, (ip, status) in enumerate(
        [("10.20.30.7", 400)] * 5 + [("10.20.30.8", 400)] * 2 + [("10.20.30.9", 200)] * 9 + [("10.20.30.9", 500)]
    ):
        lines.append(
            f'{ip} - - [27/Nov/2026:01:00:{second:02d} +0000] "GET /api/devices HTTP/1.1" {status} 512 "-" "curl/8.0" {40 + second}'
        )
    path.write_text("\n".join(lines) + "\n")


def test_question_answered_with_sources(chromium, stack, tmp_path, screenshots):
    from django.core.management import call_command

    log = tmp_path / "access.log"
    access_log(log)
    call_command("ingest_logs", str(log), stdout=open(os.devnull, "w"))  # noqa: SIM115
    UserFactory(username="ADMIN4")
    page = sign_in(chromium, stack, "ADMIN4")
    page.click("#tab-images")
    page.click("button.prompt:has-text('error 400')")
    answer = page.locator("#chat-log .bubble-a").last
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('#chat-log .bubble-a')].pop(); return a && !/Looking it up/.test(a.textContent); }",
        timeout=30000,
    )
    text = answer.inner_text()
    assert "No answer" not in text, text
    assert "10.20.30.7" in text
    assert "null" not in text and "undefined" not in text, text
    assert answer.locator(".sources li").count() >= 1, text
    # The question as the user typed it stays in the log, right-aligned like a chat.
    assert page.locator("#chat-log .bubble-q").last.inner_text().startswith("Give me most frequent IP devices")
    page.locator("#chat-form").scroll_into_view_if_needed()
    shoot(page, screenshots / "desktop-4-images-question.png")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "page scrolls sideways on a phone"
    )
    shoot(page, screenshots / "phone-4-images-question.png")
    page.context.close()


@pytest.fixture
def ha_stack(mosquitto, tmp_path):
    """The failover topology (ha_up: PostgreSQL primary + replica, Redis + Sentinels) with the web server on it."""
    data_dir = Path(tempfile.mkdtemp(prefix="tier0-e2e-ha-"))  # outside pytest's 0700 folders: postgres runs there
    data_dir.chmod(0o755)
    stack = Stack(tmp_path, mosquitto.port)
    database = f"tier0_e2e_ha_{uuid.uuid4().hex[:8]}"
    stack.env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    up = subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "ha_up", "--data-dir", str(data_dir), "--base-port", "0", "--database", database],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    try:
        assert up.returncode == 0 and "failed" not in up.stderr, up.stdout[-3000:] + up.stderr[-3000:]
        for line in (data_dir / "ha.env").read_text().splitlines():
            key, _, value = line.partition("=")
            stack.env[key] = value
        stack.start_web()
        yield stack
    finally:
        stack.stop()
        subprocess.run(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "ha_down", "--data-dir", str(data_dir), "--purge"],
            cwd=REPO,
            env=stack.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.ha
def test_failover_changes_the_version(request, chromium, screenshots):
    stack = request.getfixturevalue("ha_stack")
    created = subprocess.run(
        [sys.executable, "manage.py", "create_sre_user", "ADMIN5"],
        cwd=REPO,
        env={**stack.env, "SRE_USER_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    page = sign_in(chromium, stack, "ADMIN5")
    page.click("#tab-failover")
    text_is(page, "site-version", "v1.0.0057_region1")
    page.wait_for_function("() => /Serving region: region1/.test(document.getElementById('fo-current').textContent)")
    assert page.inner_text("#fo-target") == "region2"
    page.click("[data-testid=fo-start]")
    page.click("#fo-confirm-no")  # the confirmation really guards it: nothing happens on Cancel
    page.wait_for_timeout(300)
    assert page.locator("#fo-steps li").count() == 0
    page.click("[data-testid=fo-start]")
    page.click("#fo-confirm-yes")
    text_is(page, "site-version", "v1.0.0057_region2", timeout_ms=90000)
    page.wait_for_function("() => /seconds/.test(document.getElementById('fo-time').textContent)", timeout=30000)
    steps = page.locator("#fo-steps li").all_inner_texts()
    assert any("Promote" in s and " s" in s for s in steps), steps
    assert not page.locator("#fo-steps li.failed").count(), steps
    assert "null" not in " ".join(steps) and "undefined" not in " ".join(steps), steps
    # The wireframe's "Live … Stopped … switch… Live": here the app stayed up, switched, and is Live again.
    page.wait_for_function("() => /switch … Live$/.test(document.getElementById('fo-status-trail').textContent)")
    assert "v1.0.0057_region1 → v1.0.0057_region2" in page.inner_text("#fo-version")
    page.wait_for_function("() => /Serving region: region2/.test(document.getElementById('fo-current').textContent)")
    shoot(page, screenshots / "desktop-5-failover-done.png")
    page.context.close()
    # The Redis master moved under the open websocket: a warning line, not an UNBLOCKED traceback; JSON lines only.
    web_log = stack.log("web")
    assert "UNBLOCKED" not in web_log, web_log[-3000:]
    assert all(line.startswith("{") for line in web_log.splitlines() if line.strip()), web_log[-3000:]
