"""The ASGI fast path answers cached device pages exactly as the API would, and nothing else."""

import httpx
import pytest
from asgiref.sync import async_to_sync
from rest_framework.authtoken.models import Token

from telemetry.api.fastpath import DeviceListFastPath
from tests.telemetry.test_api import ingest
from tier0site.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


def get(path: str, **headers) -> httpx.Response:
    async def call():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(path, headers=headers)

    return async_to_sync(call)()


def fastpath() -> DeviceListFastPath:
    http = application.application_mapping["http"]
    return getattr(http, "app", http)  # inside the access-log middleware


def test_a_cached_page_is_answered_by_the_fast_path_with_the_same_body(token):
    ingest()
    ingest(device_id="TURB-2", site_id="TX-EAGLE")
    auth = {"Authorization": f"Token {token}"}
    first = get("/api/devices?site_id=WY-ALPHA", **auth)  # DRF authenticates and fills the cache
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
    assert token in fastpath().trusted_tokens

    second = get("/api/devices?site_id=WY-ALPHA", **auth)
    assert second.headers["X-Cache"] == "HIT"
    assert second.json() == first.json()
    assert second.json()["results"][0]["device_id"] == "TURB-00912"


def test_what_the_fast_path_cannot_judge_goes_to_django(token):
    ingest()
    auth = {"Authorization": f"Token {token}"}
    get("/api/devices", **auth)
    assert get("/api/devices", Authorization="Token not-a-real-token").status_code in (401, 403)
    bad = get("/api/devices?state=BROKEN", **auth)
    assert bad.status_code == 400 and bad.json()["error"].startswith("Invalid filter state")
    assert get("/api/devices").status_code in (401, 403)  # no credentials at all
    assert get("/api/devices", Host="evil.example", **auth).status_code == 400  # Django's host check
