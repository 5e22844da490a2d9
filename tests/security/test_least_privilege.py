"""Least privilege: viewers read, staff change shared data, everyone manages their own tokens."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from failover.models import FailoverEvent
from imaging.models import ImageRecord
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Endpoints that change nothing shared: a question, and the caller's own tokens.
OPEN_TO_ANY_SIGNED_IN_USER = {"rag-query", "token-login", "token-logout", "token-revoke"}


def test_a_viewers_image_review_is_403(api_client, staff_client):
    image = ImageRecord.objects.create(
        path="/seed/TurbineImages/T1.jpg", filename="T1.jpg", device_type="turbine", site_id="WY-ALPHA",
        content_hash="0" * 64, processed_at=timezone.now(),
    )  # fmt: skip
    answer = api_client.patch(f"/api/images/{image.pk}", {"persons": 7}, format="json")
    assert answer.status_code == 403
    assert "staff" in answer.json()["error"]
    image.refresh_from_db()
    assert not image.reviewed and image.persons == 0
    assert staff_client.patch(f"/api/images/{image.pk}", {"persons": 7}, format="json").status_code == 200


def _api_views():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and hasattr(p.callback, "cls"):
                yield prefix + str(p.pattern), p.name, p.callback.cls

    from rest_framework.views import APIView

    return [(route, name, cls) for route, name, cls in walk(get_resolver().url_patterns) if issubclass(cls, APIView)]


def test_every_state_changing_api_is_staff_only_unless_it_acts_on_your_own_things(user):
    from rest_framework.permissions import IsAdminUser

    from tier0site.permissions import StaffWritesOnly

    checked = 0
    for route, name, cls in _api_views():
        unsafe = [m for m in ("post", "put", "patch", "delete") if hasattr(cls, m)]
        if not unsafe or name in OPEN_TO_ANY_SIGNED_IN_USER:
            continue
        kinds = {type(p) for p in (c() for c in cls.permission_classes)}
        assert kinds & {StaffWritesOnly, IsAdminUser}, f"{route} ({name}) lets non-staff {unsafe}"
        checked += 1
    assert checked >= 3  # failover, image review, user traffic at least


def test_a_staff_sre_gets_the_admin_permissions_the_readme_names(monkeypatch):
    monkeypatch.setenv("SRE_USER_PASSWORD", "Welcome-to-tier0-2026")
    call_command("create_sre_user", "ADMIN1")
    client = Client()
    client.login(username="ADMIN1", password="Welcome-to-tier0-2026")
    for url in ("/admin/telemetry/deadletter/", "/admin/imaging/imagerecord/", "/admin/failover/failoverevent/",
                "/admin/sessions_app/usersession/"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/auth/user/").status_code == 403  # not a user administrator
    assert client.get("/admin/knox/authtoken/").status_code == 403  # nor everyone's tokens


def test_the_admin_shows_failover_records_read_only(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    now = timezone.now()
    event = FailoverEvent.objects.create(
        kind="planned", status="completed", source_region="region1", target_region="region2", started_at=now, finished_at=now, total_s=1.0
    )
    page = client.get(f"/admin/failover/failoverevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get("/admin/failover/failoverevent/add/").status_code == 403
    assert client.post(f"/admin/failover/failoverevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert FailoverEvent.objects.filter(pk=event.pk).exists()


def test_viewers_still_manage_their_own_password(db):
    viewer = UserFactory()
    client = Client()
    client.force_login(viewer)
    answer = client.post(
        "/accounts/password_change/",
        {"old_password": "correct-horse-battery", "new_password1": "Another-long-phrase-42", "new_password2": "Another-long-phrase-42"},
    )
    assert answer.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password("Another-long-phrase-42")
