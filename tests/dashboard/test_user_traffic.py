""" "Simulate High User Traffic": staff only, bounded, one at a time, really publishes."""

import uuid

import pika
import pytest
from django.test import Client

from dashboard import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/dashboard/simulate-user-traffic"


def client_for(**user_fields) -> Client:
    client = Client()
    client.force_login(UserFactory(**user_fields))
    return client


def test_refused_to_non_staff_and_to_anonymous():
    assert client_for(is_staff=False).post(URL, {}, content_type="application/json").status_code == 403
    assert Client().post(URL, {}, content_type="application/json").status_code == 403


def test_fewer_than_100_users_is_a_clear_400():
    response = client_for(is_staff=True).post(URL, {"users": 5}, content_type="application/json")
    assert response.status_code == 400
    assert "users" in response.json()["error"]


def test_staff_start_publishes_to_the_queue_and_a_second_start_waits(settings):
    from sessions_app.amqp import topology_delete, topology_ensure

    settings.SESSIONS_QUEUE = f"test_traffic_{uuid.uuid4().hex[:8]}"
    topology_ensure(queue=settings.SESSIONS_QUEUE)
    try:
        client = client_for(is_staff=True)
        started = client.post(URL, {"users": 100, "messages": 300}, content_type="application/json")
        assert started.status_code == 202, started.content
        assert started.json()["queue"] == settings.SESSIONS_QUEUE
        again = client.post(URL, {}, content_type="application/json")
        assert again.status_code == 409
        assert services.user_traffic_wait(60) == 0
        connection = pika.BlockingConnection(pika.URLParameters(settings.RABBITMQ_URL))
        try:
            queued = connection.channel().queue_declare(queue=settings.SESSIONS_QUEUE, passive=True).method.message_count
        finally:
            connection.close()
        assert queued >= 300
    finally:
        topology_delete(queue=settings.SESSIONS_QUEUE)
