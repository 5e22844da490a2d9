"""Fixtures every test may use: real brokers, users, API clients, isolation.

Nothing here mocks a database or a broker. The project's own Mosquitto runs
for the session on a free loopback port; PostgreSQL, Redis and RabbitMQ are the
machine's. Cache keys carry a per-run prefix (see settings/test.py).
"""

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from devtools.broker import MosquittoProcess
from tests.factories import UserFactory


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """The project's Mosquitto (deploy/mosquitto/mosquitto.conf) on a free port."""
    broker = MosquittoProcess(data_dir=tmp_path_factory.mktemp("mosquitto")).start()
    previous = settings.MQTT_PORT
    settings.MQTT_PORT = broker.port
    yield broker
    settings.MQTT_PORT = previous
    broker.stop()


DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server"}


def _uses_services(request) -> bool:
    """A test that touches the database may fill the cache too; pure tests (parsers, validators) touch neither."""
    return request.node.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _clean_cache(request):
    """Empty this run's cache namespace after each test that uses the services, so no Redis for the others."""
    yield
    if _uses_services(request):
        cache.delete_pattern("*")


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client
