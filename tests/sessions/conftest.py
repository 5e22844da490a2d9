"""Fixtures for the session pipeline tests: unique queues and keys, consumer processes.

Every test gets its own RabbitMQ queue (with its dead-letter exchange and
queue) and its own ``SRE_User`` key, removed afterwards. Consumers run either
in this process (fast, inside the test transaction) or as real
``run_rabbitmq_consumer`` subprocesses pointed at the test database.
"""

import uuid

import pytest
from django_redis import get_redis_connection

from sessions_app import amqp
from tests.sessions.helpers import ConsumerProcess


@pytest.fixture
def queue():
    name = f"test_sessions_{uuid.uuid4().hex[:10]}"
    yield name
    amqp.topology_delete(queue=name)


@pytest.fixture
def sre_key(settings):
    key = f"SRE_User_test_{uuid.uuid4().hex[:10]}"
    settings.SESSIONS_SRE_USER_KEY = key
    yield key
    get_redis_connection("default").delete(key)


@pytest.fixture
def consumer_processes():
    started: list[ConsumerProcess] = []

    def start(queue: str, sre_key: str, *extra: str) -> ConsumerProcess:
        process = ConsumerProcess(queue, sre_key, *extra)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill()
