"""The sessions API: filters, pagination, summary from Redis or the database, site snapshots."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_redis import get_redis_connection

from sessions_app.models import SiteSnapshot, UserSession
from sessions_app.services import sre_user_publish

pytestmark = pytest.mark.django_db


def _session(session_id: str, status: str, region: str = "US-WEST", site_id: str = "SFO-WEB-01", user_id: str | None = None):
    now = timezone.now()
    return UserSession.objects.create(
        user_id=user_id or f"USR-{session_id}",
        session_id=session_id,
        connection_status=status,
        region=region,
        site_id=site_id,
        login_time=now - timedelta(minutes=10),
        last_activity=now,
        last_event_at=now,
        stored_at=now,
    )


@pytest.fixture
def sessions():
    _session("S1", "active")
    _session("S2", "idle", region="EU-WEST", site_id="LON-WEB-01")
    _session("S3", "disconnected", region="EU-WEST", site_id="LON-WEB-01")
    _session("S4", "active", region="APAC", site_id="SIN-WEB-01")


def test_users_requires_authentication(anon_client):
    assert anon_client.get("/api/users").status_code in (401, 403)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["S1", "S2", "S3", "S4"]),
        ("?status=active", ["S1", "S4"]),
        ("?region=EU-WEST", ["S2", "S3"]),
        ("?site_id=LON-WEB-01&status=idle", ["S2"]),
        ("?region=NOWHERE", []),
    ],
)
def test_users_filters(api_client, sessions, query, expected):
    response = api_client.get(f"/api/users{query}")
    assert response.status_code == 200
    assert [row["session_id"] for row in response.json()["results"]] == expected


def test_users_pagination(api_client, sessions):
    first = api_client.get("/api/users?page_size=3").json()
    assert first["count"] == 4 and len(first["results"]) == 3 and first["previous"] is None
    second = api_client.get(first["next"]).json()
    assert [row["session_id"] for row in second["results"]] == ["S4"] and second["next"] is None
    assert api_client.get("/api/users?page=9").status_code == 404


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("?status=sleeping", "status"),
        ("?region=US WEST;DROP", "region"),
        ("?page=0", "page"),
        ("?page_size=5000", "page_size"),
        ("?stauts=active", "unknown filter stauts"),
    ],
)
def test_users_bad_filters_answer_400_with_a_message(api_client, query, fragment):
    response = api_client.get(f"/api/users{query}")
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_summary_from_redis_then_database_fallback(api_client, sessions, sre_key):
    published = sre_user_publish()
    body = api_client.get("/api/users/summary").json()
    assert body["source"] == "redis" and body["generated_at"] == published["generated_at"]
    assert body["by_status"] == {"active": 2, "idle": 1, "disconnected": 1}
    assert body["by_region"]["EU-WEST"] == {"active": 0, "idle": 1, "disconnected": 1}
    assert (body["concurrent_users"], body["active_users"]) == (3, 2)

    get_redis_connection("default").delete(sre_key)
    fallback = api_client.get("/api/users/summary")
    assert fallback["X-Source"] == "database"
    assert fallback.json()["by_status"] == body["by_status"]

    get_redis_connection("default").set(sre_key, "not json")
    assert api_client.get("/api/users/summary").json()["source"] == "database"


def test_site_users_latest_snapshot_or_404(api_client):
    now = timezone.now()
    for n, minutes in ((1, 5), (2, 1), (3, 3)):
        SiteSnapshot.objects.create(
            message_id=f"MSG-{n}",
            site_id="SFO-WEB-01",
            timestamp_utc=now - timedelta(minutes=minutes),
            active_users=n,
            active_connections=n,
            payload={"active_users_list": [{"user_id": "USR-1"}], "queue_metadata": {"topic": "webapp/active_users"}},
        )
    body = api_client.get("/api/sites/SFO-WEB-01/users").json()
    assert body["message_id"] == "MSG-2" and body["metrics"]["active_users"] == 2
    assert body["active_users_list"] == [{"user_id": "USR-1"}]
    missing = api_client.get("/api/sites/NOWHERE-01/users")
    assert missing.status_code == 404 and "NOWHERE-01" in missing.json()["error"]
    assert api_client.get("/api/sites/bad%20site/users").status_code == 400


def test_summary_is_json_in_redis_under_the_wireframe_key(sessions, sre_key):
    sre_user_publish()
    stored = json.loads(get_redis_connection("default").get(sre_key))
    assert {"concurrent_users", "active_users", "users"} <= stored.keys()
    assert all("online_seconds" in user for user in stored["users"])
