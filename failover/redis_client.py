"""A Sentinel-managed Redis connection whose retries follow a master change.

redis-py 8.1 re-connects a ``SentinelManagedConnection`` inside a command's
retry loop through ``connect_check_health``, which reuses the old host: after a
failover every retry goes back to the demoted master ("The previous master is
now a slave") and the command fails although Sentinel already names the new
one. This subclass asks Sentinel for the master whenever it reconnects, so a
retried command lands on the new master.

Settings name the factory by its dotted path (``CONNECTION_FACTORY``), so they
import no application code.
"""

from django_redis.pool import SentinelConnectionFactory
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import SentinelManagedConnection


class SentinelFollowingConnection(SentinelManagedConnection):
    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if not self._sock and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)


def following_retry() -> Retry:
    """A pooled connection to a demoted master fails once ("previous master is now a slave")
    and asks Sentinel again: retrying makes a master change invisible."""
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), 6)


class SentinelFollowingConnectionFactory(SentinelConnectionFactory):
    """django-redis's Sentinel factory with retries that follow the master."""

    def __init__(self, options: dict) -> None:
        options["CONNECTION_POOL_KWARGS"] = {
            "retry": following_retry(),
            "connection_class": SentinelFollowingConnection,
            **options.get("CONNECTION_POOL_KWARGS", {}),
        }
        super().__init__(options)
