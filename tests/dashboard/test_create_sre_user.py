"""manage.py create_sre_user: the only way (besides createsuperuser) to get a login."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_creates_a_staff_user_from_the_environment(monkeypatch):
    monkeypatch.setenv("SRE_USER_PASSWORD", "Welcome-to-tier0")
    call_command("create_sre_user", "ADMIN1")
    user = authenticate(username="ADMIN1", password="Welcome-to-tier0")
    assert user is not None and user.is_staff and not user.is_superuser


def test_viewer_is_not_staff(monkeypatch):
    monkeypatch.setenv("SRE_USER_PASSWORD", "Welcome-to-tier0")
    call_command("create_sre_user", "watcher", "--viewer")
    assert get_user_model().objects.get(username="watcher").is_staff is False


def test_existing_user_needs_update_to_reset(monkeypatch):
    monkeypatch.setenv("SRE_USER_PASSWORD", "first-password-1")
    call_command("create_sre_user", "ADMIN1")
    monkeypatch.setenv("SRE_USER_PASSWORD", "second-password-2")
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_sre_user", "ADMIN1")
    call_command("create_sre_user", "ADMIN1", "--update")
    assert authenticate(username="ADMIN1", password="second-password-2") is not None


def test_no_password_and_no_terminal_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("SRE_USER_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    with pytest.raises(CommandError, match="SRE_USER_PASSWORD"):
        call_command("create_sre_user", "ADMIN1")
    assert not get_user_model().objects.filter(username="ADMIN1").exists()
