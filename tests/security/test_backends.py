"""Back ends: cache values are JSON (never pickle); what the API caches round-trips as JSON."""

import json

import pytest
from django.core.cache import cache
from django_redis import get_redis_connection

from tests.telemetry.test_api import ingest

pytestmark = pytest.mark.django_db


def test_cached_api_answers_are_stored_as_json(api_client):
    ingest()
    first = api_client.get("/api/devices?site_id=WY-ALPHA")
    sites = api_client.get("/api/sites")
    assert first.status_code == 200 and sites.status_code == 200
    again = api_client.get("/api/devices?site_id=WY-ALPHA")
    assert again.headers["X-Cache"] == "HIT" and again.json() == first.json()
    raw = get_redis_connection("default")
    keys = raw.keys(cache.make_key("*"))
    values = [raw.get(k) for k in keys if raw.type(k) == b"string"]
    assert values, keys
    for value in values:
        json.loads(value)  # not a pickle: pickles start with b"\x80"
        assert not value.startswith(b"\x80")


def test_a_value_that_is_not_json_is_refused_not_pickled():
    from datetime import datetime

    with pytest.raises(TypeError):
        cache.set("not-json", {"when": datetime(2025, 1, 1)})


def test_a_pickled_value_left_in_redis_is_a_miss_never_unpickled():
    import pickle

    key = cache.make_key("left-over")
    get_redis_connection("default").set(key, pickle.dumps({"a": 1}))
    assert cache.get("left-over") is None
