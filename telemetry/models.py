"""Telemetry data: the reading history, each device's latest state, dead letters.

``TelemetryReading`` is a PostgreSQL table partitioned by day on
``timestamp_utc`` (created by raw SQL in the migration: Django has no
declarative partitioning). Its natural key ``(device_id, timestamp_utc)`` makes
redelivered messages harmless.
"""

from django.db import models


class TelemetryReading(models.Model):
    id = models.BigAutoField(primary_key=True)
    device_id = models.CharField(max_length=64)
    device_type = models.CharField(max_length=32)
    site_id = models.CharField(max_length=64)
    timestamp_utc = models.DateTimeField()
    firmware = models.CharField(max_length=32, blank=True)
    metrics = models.JSONField()
    status = models.JSONField()
    location = models.JSONField(null=True, blank=True)
    tags = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        db_table = "telemetry_reading"
        # The table, its partitions and indexes are created in SQL (migration 0001).
        ordering = ["-timestamp_utc"]

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.timestamp_utc:%Y-%m-%dT%H:%M:%S.%fZ}"


class DeviceState(models.Model):
    """The latest reading of each device: one row per device, upserted by ingest."""

    device_id = models.CharField(max_length=64, primary_key=True)
    device_type = models.CharField(max_length=32)
    site_id = models.CharField(max_length=64)
    state = models.CharField(max_length=8)
    timestamp_utc = models.DateTimeField()
    firmware = models.CharField(max_length=32, blank=True)
    metrics = models.JSONField()
    status = models.JSONField()
    location = models.JSONField(null=True, blank=True)
    tags = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "telemetry_device_state"
        indexes = [models.Index(fields=["site_id", "device_type", "state"])]
        ordering = ["device_id"]

    def __str__(self) -> str:
        return f"{self.device_id} ({self.state})"


class DeadLetter(models.Model):
    """A message that could not be stored, with the reason: its first 4 KiB, its full size and hash."""

    source = models.CharField(max_length=32, default="mqtt")
    topic = models.CharField(max_length=512, blank=True)
    payload = models.TextField()  # the first 4 KiB (tier0site.batches.DEAD_LETTER_KEEP_BYTES)
    payload_size = models.PositiveIntegerField(default=0)  # bytes of the whole payload
    payload_sha256 = models.CharField(max_length=64, blank=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "telemetry_dead_letter"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.topic}: {self.reason[:60]}"
