"""Failover state: the region serving now, the record of every failover, drill writes.

``ActiveRegion`` is a single row (id 1): the deployment's region after the last
completed failover. ``FailoverEvent`` keeps each attempt, refused ones too, with
the duration of every step. ``DrillWrite`` holds the numbered inserts of
``failover_drill``; it has no unique key on purpose, so a write applied twice
shows up as a duplicate instead of being silently merged.
"""

from django.conf import settings
from django.db import models


class ActiveRegion(models.Model):
    SINGLETON_ID = 1

    region = models.CharField(max_length=32)
    changed_at = models.DateTimeField(auto_now=True)
    event = models.ForeignKey("FailoverEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.region


class FailoverEvent(models.Model):
    class Kind(models.TextChoices):
        PLANNED = "planned"
        UNPLANNED = "unplanned"
        REBUILD = "rebuild"

    class Status(models.TextChoices):
        COMPLETED = "completed"
        REFUSED = "refused"
        FAILED = "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    source_region = models.CharField(max_length=32, blank=True)
    target_region = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    total_s = models.FloatField()
    # [{"name": "fence_old_primary", "seconds": 0.04, "ok": true, "detail": "..."}]
    steps = models.JSONField(default=list)
    details = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["-started_at"], name="failover_event_started_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_region}->{self.target_region} {self.status}"


class WriteProbe(models.Model):
    """The write that proves a freshly promoted primary takes writes."""

    written_at = models.DateTimeField(auto_now_add=True)
    region = models.CharField(max_length=32)
    server = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.region} {self.written_at}"


class DrillWrite(models.Model):
    run_id = models.CharField(max_length=40)
    seq = models.IntegerField()
    written_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["run_id", "seq"], name="failover_drill_run_seq_idx")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq}"
