"""Fuzz suite: hostile messages through RabbitMQ into a running run_rabbitmq_consumer.

Each hostile kind (``tests/sessions/hostile.py``) is published between valid
events on a queue of the test's own. The consumer stays up, applies every
valid event and dead-letters every hostile message with its reason.
"""

import json

import pytest

from sessions_app import amqp
from sessions_app.models import UserSession
from tests.sessions.helpers import T0, event, queue_depth
from tests.sessions.hostile import hostile_bodies
from tests.support.amqp import drain, publish_raw
from tests.support.fuzz import record_fuzz_outcome
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VALID_BETWEEN = 3


def test_hostile_messages_are_dead_lettered_and_valid_ones_all_applied(queue, sre_key, consumer_processes):
    hostile = hostile_bodies()
    assert len(hostile) >= 25
    valid = [
        (json.dumps(event(f"SESS-VALID-{n}", "login", T0)).encode(), f"valid-{n}")
        for n in range(VALID_BETWEEN * (len(hostile) + 1))
    ]
    sequence = []
    for index, (kind, (body, _reason)) in enumerate(hostile.items()):
        sequence += valid[index * VALID_BETWEEN : (index + 1) * VALID_BETWEEN]
        sequence.append((body, kind))
    sequence += valid[len(hostile) * VALID_BETWEEN :]
    consumer = consumer_processes(queue, sre_key)
    consumer.wait_consuming(queue)

    publish_raw(queue, sequence)

    applied = UserSession.objects.filter(session_id__startswith="SESS-VALID-")
    wait_until(lambda: applied.count() == len(valid) and queue_depth(queue)[0] == 0, 60, 0.2, "valid events not all applied")
    assert consumer.process.poll() is None
    letters: dict[str, str] = {}

    def all_dead_lettered() -> bool:
        for properties, _body in drain(amqp.dead_letter_queue(queue)):
            letters[properties.message_id] = (properties.headers or {}).get(amqp.REASON_HEADER, "")
        return len(letters) >= len(hostile)

    wait_until(all_dead_lettered, 30, 0.2, "not every hostile message was dead-lettered")
    outcome = {}
    for kind, (_body, expected) in hostile.items():
        reason = letters.get(kind, "")
        assert reason and expected in reason, f"{kind}: {reason or 'not dead-lettered'}"
        outcome[kind] = reason[:100]
    assert len(letters) == len(hostile)
    code, _out, err = consumer.stop()
    assert code == 0, err[-2000:]
    record_fuzz_outcome("amqp", valid_applied=applied.count(), outcome=outcome)
