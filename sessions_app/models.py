"""User sessions and site user snapshots, fed by the RabbitMQ consumer.

``UserSession`` is one row per ``session_id`` (the natural key the consumer
upserts on); ``last_event_at`` is the timestamp of the newest event applied,
so an older, late or redelivered event never overwrites newer state.
``SiteSnapshot`` keeps the seed's ``users_sample.json`` messages, one row per
``message_id``.
"""

from django.db import models


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    IDLE = "idle", "Idle"
    DISCONNECTED = "disconnected", "Disconnected"


class UserSession(models.Model):
    user_id = models.CharField(max_length=50)
    username = models.CharField(max_length=100, blank=True, default="")
    session_id = models.CharField(max_length=64)
    # Status lookups use the (connection_status, last_activity) index; region
    # has too few values for an index to pay for its cost on every upsert.
    connection_status = models.CharField(max_length=20, choices=ConnectionStatus.choices)
    region = models.CharField(max_length=32)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    site_id = models.CharField(max_length=64, blank=True, default="")
    login_time = models.DateTimeField(null=True, blank=True)
    logout_time = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True)
    last_event = models.CharField(max_length=10, blank=True, default="")
    last_event_at = models.DateTimeField()
    # Database clock time of the statement that last wrote the row: what the
    # benchmark measures publish-to-store latency against.
    stored_at = models.DateTimeField()

    class Meta:
        # Declared here rather than with unique=/db_index= so Django adds no
        # varchar_pattern_ops twins: every index costs on each upserted row.
        constraints = [models.UniqueConstraint(fields=["session_id"], name="usersession_session_id_unique")]
        indexes = [
            models.Index(fields=["connection_status", "last_activity"], name="usersession_status_activity"),
            models.Index(fields=["user_id"], name="usersession_user_id"),
            models.Index(fields=["site_id"], name="usersession_site_id"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.session_id} {self.connection_status}"


class SiteSnapshot(models.Model):
    message_id = models.CharField(max_length=64, unique=True)
    site_id = models.CharField(max_length=64)
    timestamp_utc = models.DateTimeField()
    active_users = models.IntegerField()
    active_connections = models.IntegerField()
    server_cpu_pct = models.FloatField(null=True, blank=True)
    server_memory_gb = models.FloatField(null=True, blank=True)
    average_latency_ms = models.FloatField(null=True, blank=True)
    # The whole message as received (user list and queue metadata included).
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site_id", "-timestamp_utc"], name="sitesnapshot_site_latest")]

    def __str__(self) -> str:
        return f"{self.site_id} {self.message_id}"
