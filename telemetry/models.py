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
    # When the device's last message was stored (arrival, not the device's clock):
    # liveness is judged on this, so a device with a wrong clock is still seen.
    last_seen = models.DateTimeField(null=True, blank=True)
    # Set once by the liveness monitor when the device falls silent; cleared by ingest.
    offline_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "telemetry_device_state"
        indexes = [
            models.Index(fields=["site_id", "device_type", "state"]),
            models.Index(fields=["last_seen"], name="telemetry_state_last_seen"),
        ]
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


class _Rollup(models.Model):
    """Readings of one device over one bucket: ``metrics`` maps each name to [avg, min, max]."""

    id = models.BigAutoField(primary_key=True)
    device_id = models.CharField(max_length=64)
    bucket = models.DateTimeField()
    n = models.IntegerField()
    metrics = models.JSONField()

    class Meta:
        abstract = True
        ordering = ["device_id", "bucket"]

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.bucket:%Y-%m-%dT%H:%M}Z ({self.n})"


class RollupMinute(_Rollup):
    class Meta(_Rollup.Meta):
        db_table = "telemetry_rollup_minute"
        indexes = [models.Index(fields=["bucket"], name="telemetry_rollup_minute_time")]
        constraints = [models.UniqueConstraint(fields=["device_id", "bucket"], name="telemetry_rollup_minute_key")]


class RollupHour(_Rollup):
    class Meta(_Rollup.Meta):
        db_table = "telemetry_rollup_hour"
        constraints = [models.UniqueConstraint(fields=["device_id", "bucket"], name="telemetry_rollup_hour_key")]
