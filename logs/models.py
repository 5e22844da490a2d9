"""System logs (with hourly rollups).

Rows are keyed by ``(log_file, line_number)``: a file's content fingerprint is
registered in ``LogFile`` and each batch commits its rows together with the
registry's progress, so a re-ingest of the same content adds nothing and an
interrupted or appended file resumes where it stopped.

The rollups (``LogHourlyCount``, ``LogHourlyLatency``) are written in the same
transaction as the rows they summarise; answers over whole hours read them and
the partial hours at a window's edges read the raw rows, so answers stay exact.

The tables keep the names they had when logs lived in the ``rag`` app
(``rag_*``): the move changed Django's state only, so existing rows stay.
"""

from django.db import models


class LogFile(models.Model):
    """A log file's content fingerprint and how far it has been ingested."""

    path = models.CharField(max_length=1024, db_index=True)
    sha256 = models.CharField(max_length=64, unique=True, help_text="digest of the bytes ingested so far")
    size_bytes = models.BigIntegerField(default=0, help_text="bytes consumed (always ends on a line boundary)")
    lines_read = models.BigIntegerField(default=0)
    lines_stored = models.BigIntegerField(default=0)
    malformed = models.BigIntegerField(default=0)
    complete = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "rag_log_file"

    def __str__(self) -> str:
        return f"{self.path} ({self.lines_stored} lines)"


class SystemLog(models.Model):
    """One access-log line. ``log_file`` has no database constraint: COPY speed
    matters and rows are only written and removed by ``logs.services``."""

    pk = models.CompositePrimaryKey("log_file", "line_number")
    log_file = models.ForeignKey(LogFile, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    line_number = models.BigIntegerField()
    ip = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    method = models.CharField(max_length=16, blank=True)
    path = models.TextField(blank=True)
    protocol = models.CharField(max_length=16, blank=True)
    status = models.SmallIntegerField()
    size = models.BigIntegerField(null=True)
    referer = models.TextField(blank=True)
    user_agent = models.TextField(blank=True)
    response_time_ms = models.IntegerField(null=True)

    class Meta:
        db_table = "rag_system_log"
        # A B-tree, not BRIN: after deletes, COPY refills free space out of time order and BRIN
        # ranges then cover most of the table (measured: 10x more rows rechecked).
        indexes = [models.Index(fields=["timestamp"], name="rag_syslog_ts")]

    def __str__(self) -> str:
        return f"{self.ip} {self.method} {self.path} {self.status}"


class LogHourlyCount(models.Model):
    """Requests per (file, UTC hour, ip, status)."""

    pk = models.CompositePrimaryKey("log_file", "hour", "ip", "status")
    log_file = models.ForeignKey(LogFile, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    hour = models.DateTimeField()
    ip = models.CharField(max_length=64)
    status = models.SmallIntegerField()
    requests = models.BigIntegerField()

    class Meta:
        db_table = "rag_log_hourly_count"
        indexes = [models.Index(fields=["hour"], name="rag_loghc_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.ip} {self.status}: {self.requests}"


class LogHourlyLatency(models.Model):
    """Requests per (file, UTC hour, response time in whole ms): exact percentiles."""

    pk = models.CompositePrimaryKey("log_file", "hour", "response_time_ms")
    log_file = models.ForeignKey(LogFile, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    hour = models.DateTimeField()
    response_time_ms = models.IntegerField()
    requests = models.BigIntegerField()

    class Meta:
        db_table = "rag_log_hourly_latency"

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.response_time_ms} ms: {self.requests}"
