"""Cache values are JSON, never pickle.

django-redis unpickles what it reads by default, so anyone who can write to Redis
could run code in the web process. JSON cannot carry code. The encoder is the
plain one on purpose: a value that is not JSON already (a datetime, a model) fails
loudly at ``cache.set`` in the tests instead of coming back as a different type.
"""

import json
import logging

from django_redis.serializers.base import BaseSerializer

logger = logging.getLogger(__name__)


class StrictJSONSerializer(BaseSerializer):
    def dumps(self, value) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(self, value: bytes):
        try:
            return json.loads(value)
        except ValueError:
            # A value written before the switch (a pickle) or by someone else: a miss, never unpickled.
            logger.warning("cache value is not JSON: treated as a miss")
            return None
