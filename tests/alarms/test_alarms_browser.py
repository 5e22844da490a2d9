"""The Alarms view in a real Chromium: grouped by site and rule, expandable, acknowledged by staff.

Alarms come from MQTT traffic through the real consumer process (the stack of
tests/dashboard/test_browser.py); the screenshot goes to artifacts/screenshots/.
"""

import pytest

from alarms.models import Alarm, AlarmTransition
from tests.alarms.conftest import exhaust_rule, turbine_message
from tests.dashboard.test_browser import DESKTOP, chromium, screenshots, sign_in, stack  # noqa: F401 - fixtures
from tests.factories import UserFactory
from tests.support.mqtt import publish
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_staff_see_alarms_grouped_by_site_and_rule_and_acknowledge_one(chromium, stack, screenshots, rules):  # noqa: F811
    exhaust_rule(rules, for_s=0, name="turbine exhaust high")
    rules(name="turbine critical state", kind="state", states="CRITICAL", severity="critical")
    messages = [turbine_message(0, 600 + n, device_id=f"TURB-{n:03d}", site_id="WY-ALPHA") for n in range(12)]
    messages += [turbine_message(0, 530, device_id="TURB-900", site_id="TX-EAGLE", state="CRITICAL")]
    publish(messages)
    wait_until(lambda: Alarm.objects.count() == 13, timeout=60)
    staff = UserFactory(is_staff=True)
    page = sign_in(chromium, stack, staff.username, viewport=DESKTOP)
    page.goto("/#panel-devices")
    page.wait_for_selector("[data-testid=alarms-table] tbody tr")
    rows = page.locator("[data-testid=alarms-table] tbody tr")
    assert rows.count() == 2  # 13 alarms, two groups
    assert "critical" in rows.nth(0).inner_text()  # the most severe first
    assert "1 critical" in page.inner_text("[data-testid=alarm-counts]")
    header = page.locator("[data-testid=alarm-header]")
    assert header.locator("[data-severity=critical]").inner_text() == "1 critical"
    assert header.locator("[data-severity=major]").inner_text() == "12 major"
    page.click("[data-testid=alarms-table] tbody tr:has-text('WY-ALPHA')")
    page.wait_for_selector("#alarm-group-detail tr")
    assert page.locator("#alarm-group-detail tr").count() == 12
    page.locator("[data-testid=alarms-view]").screenshot(path=str(screenshots / "alarms-grouped.png"))
    page.once("dialog", lambda dialog: dialog.accept("crew dispatched"))
    page.locator("#alarm-group-detail tr").first.locator("button:has-text('Acknowledge')").click()
    acked = wait_until(lambda: AlarmTransition.objects.filter(action="acknowledged").first(), timeout=20)
    assert acked.user == staff and acked.comment == "crew dispatched"
    # A new critical alarm reaches the header over the websocket, without a reload.
    publish([turbine_message(0, 530, device_id="TURB-901", site_id="TX-EAGLE", state="CRITICAL")])
    page.wait_for_function(
        "document.querySelector('[data-testid=alarm-header] [data-severity=critical]').textContent === '2 critical'",
        timeout=30000,
    )
    page.locator("header.topbar").screenshot(path=str(screenshots / "alarms-header.png"))
