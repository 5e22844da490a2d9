"""Safe by default: nothing public that should not be, nothing internal in answers, production hardened."""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from imaging.models import ImageRecord
from tests.dashboard.conftest import session_cookie_for
from tests.factories import UserFactory
from tests.security.conftest import METRICS_TOKEN, REPO
from tests.support.processes import free_port

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "tier0site.settings.production",
    "DJANGO_SECRET_KEY": "kq7-Zx" * 9,
    "DJANGO_ALLOWED_HOSTS": "sre.example.com",
    "RABBITMQ_URL": "amqp://tier0:s3cret@rabbitmq:5672/%2F",
}
# Absolute file-system paths, driver error text, tracebacks: none of it belongs in an answer.
INTERNALS = re.compile(
    r"(?<![\w/.])/(home|work|tmp|var|usr|etc|opt|root|srv|mnt|run)/|\[Errno|Traceback|(?<!manage)\.py\b"
)  # commands named in hints are fine


def _production(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, *code.split()] if code.startswith("manage.py") else [sys.executable, "-c", code],
        cwd=REPO, env={**env, **PRODUCTION_ENV}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_passes_with_production_settings():
    result = _production("manage.py check --deploy --fail-level WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_sends_hsts_csp_and_redirects_to_https():
    code = (
        "import django; django.setup(); from django.test import Client; c = Client(HTTP_HOST='sre.example.com'); "
        "r = c.get('/accounts/login/'); print(r.status_code, r['Location']); "
        "r = c.get('/accounts/login/', secure=True); print(r.status_code); "
        "print(r['Strict-Transport-Security']); print(r['Content-Security-Policy'])"
    )
    result = _production(code)
    assert result.returncode == 0, result.stderr
    redirect, ok, hsts, csp = result.stdout.strip().splitlines()[-4:]
    assert redirect == "301 https://sre.example.com/accounts/login/"
    assert ok == "200"
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    assert (
        "default-src 'self'" in csp
        and "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )


def test_a_404_lists_nothing(asgi_server):
    with asgi_server.client() as client:
        answer = client.get("/no/such/page")
    assert answer.status_code == 404
    assert "api/" not in answer.text and "admin/" not in answer.text and "URLconf" not in answer.text


@pytest.mark.django_db(transaction=True)
def test_metrics_need_the_scrape_token_or_staff(asgi_server):
    with asgi_server.client() as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200 and "django_http_requests" in scraped.text
    viewer = UserFactory()
    with asgi_server.client(cookies={"sessionid": session_cookie_for(viewer)}) as client:
        assert client.get("/metrics").status_code == 401  # signed in, not staff


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_is_for_signed_in_users_and_loads_only_from_the_project(asgi_server):
    with asgi_server.client() as anonymous:
        docs = anonymous.get("/api/docs")
        assert docs.status_code == 302 and docs.headers["Location"].startswith("/accounts/login/")
        assert anonymous.get("/api/schema").status_code in (401, 403)
    with asgi_server.client(cookies={"sessionid": session_cookie_for(UserFactory())}) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        parser = _Assets()
        parser.feed(page.text)
        assert len(parser.urls) >= 3, page.text  # css, bundle, preset, start-up script
        for url in parser.urls:
            assert url.startswith("/"), f"{url} is not served by the project (offline it would be blank)"
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
        assert "<script>" not in page.text  # no inline script: the CSP can forbid it
        assert client.get("/api/schema").status_code == 200


@pytest.mark.django_db
def test_answers_name_no_files_directories_or_raw_errors(api_client, settings):
    image = ImageRecord.objects.create(
        path=str(settings.SEED_DATA_DIR / "images" / "TurbineImages" / "Turbine1.jpg"), filename="Turbine1.jpg",
        device_type="turbine", site_id="WY-ALPHA", content_hash="0" * 64, processed_at=timezone.now(),
    )  # fmt: skip
    settings.HA_DATA_DIR = str(settings.BASE_DIR / ".run" / "no-such-topology")
    settings.MQTT_PORT = free_port()  # nothing listens: health reports MQTT down
    answers = {
        "image": api_client.get(f"/api/images/{image.pk}"),
        "images": api_client.get("/api/images"),
        "failover": api_client.get("/api/failover/status"),
        "health": api_client.get("/api/health"),
    }
    assert "mqtt" in answers["health"].json()["failing"]  # (no workers run here either)
    for name, answer in answers.items():
        assert answer.status_code in (200, 503), (name, answer.content)
        text = answer.content.decode()
        assert not INTERNALS.search(text), f"{name}: {INTERNALS.search(text).group(0)!r} in {text[:500]}"
        assert str(settings.BASE_DIR) not in text and "seed-data" not in text, name
