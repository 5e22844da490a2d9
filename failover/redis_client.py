"""A Sentinel-managed Redis connection whose retries follow a master change.

redis-py 8.1 re-connects a ``SentinelManagedConnection`` inside a command's
retry loop through ``connect_check_health``, which reuses the old host: after a
failover every retry goes back to the demoted master ("The previous master is
now a slave") and the command fails although Sentinel already names the new
one. This subclass asks Sentinel for the master whenever it reconnects, so a
retried command lands on the new master. No Django imports: settings use it.
"""

from redis.sentinel import SentinelManagedConnection


class SentinelFollowingConnection(SentinelManagedConnection):
    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True):
        if not self._sock and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)
