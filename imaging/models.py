"""Image records in PostgreSQL: the seed's document shape, with JSONB and float arrays.

``analysis`` keeps what the analyser said; ``review`` keeps what a person
corrected. The flat columns (flags, score, persons, site) are derived from both
(see ``imaging.compliance``) so filters and aggregates stay simple SQL.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class ImageRecord(models.Model):
    path = models.TextField(unique=True)
    filename = models.CharField(max_length=512)
    category = models.CharField(max_length=128, blank=True)
    device_type = models.CharField(max_length=32, db_index=True)
    site_id = models.CharField(max_length=32, db_index=True)
    auto_site_id = models.CharField(max_length=32, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True)
    file_size = models.BigIntegerField(default=0)
    file_mtime = models.FloatField(default=0)
    width = models.IntegerField(default=0)
    height = models.IntegerField(default=0)
    description = models.TextField(blank=True)
    keywords = models.JSONField(default=list, blank=True)
    persons = models.IntegerField(default=0)
    people = models.JSONField(default=list, blank=True)
    has_hard_hat = models.BooleanField(null=True)
    has_safety_vest = models.BooleanField(null=True)
    has_inspection_equipment = models.BooleanField(null=True)
    compliance_score = models.FloatField(null=True, db_index=True)
    quality = models.JSONField(default=dict, blank=True)
    analysis = models.JSONField(default=dict, blank=True)
    review = models.JSONField(default=dict, blank=True)
    reviewed = models.BooleanField(default=False)
    reviewed_by = models.CharField(max_length=150, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    embedding = ArrayField(models.FloatField(), default=list, blank=True)
    embedding_model = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    processed_at = models.DateTimeField()

    class Meta:
        ordering = ["device_type", "filename"]
        indexes = [models.Index(fields=["site_id", "device_type"])]

    def __str__(self) -> str:
        return f"{self.device_type}/{self.filename} @ {self.site_id}"
