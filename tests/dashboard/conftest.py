"""Dashboard fixtures: signed-in session cookies for websocket tests."""

import pytest
from django.test import Client

from tests.factories import UserFactory


def session_cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def ws_user(transactional_db):
    # Committed, because the websocket's session lookup runs on another thread.
    return UserFactory(username="ws-sre")


@pytest.fixture
def ws_cookie(ws_user) -> str:
    return session_cookie_for(ws_user)


@pytest.fixture(autouse=True)
def _close_thread_connections(monkeypatch):
    """Connections opened on Channels' worker threads close after each use.

    With the project's CONN_MAX_AGE they would outlive the test and block the
    test database's teardown ("being accessed by other users").
    """
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
