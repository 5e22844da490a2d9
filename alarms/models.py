"""Alarms: rules, the open alarm per (rule, device), its history, silences, receivers, the outbox.

The lifecycle follows ThingsBoard: an alarm is active or cleared, and
acknowledged or not, independently; every change is an ``AlarmTransition``.
``RuleState`` holds a rule's pending ``for`` timer per device in PostgreSQL, so
competing consumers that share one device's messages share its timer too.
``NotificationOutbox`` rows are written in the same transaction as the alarm
change they announce; the notifier sends them (at least once, each with its
idempotency key, so a receiver can drop a repeat).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Severity(models.TextChoices):
    WARNING = "warning"
    MAJOR = "major"
    CRITICAL = "critical"


SEVERITY_RANK = {Severity.WARNING: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}


class AlarmRule(models.Model):
    class Kind(models.TextChoices):
        METRIC = "metric"
        STATE = "state"  # the device's own reported state
        SILENCE = "silence"  # no message for DEVICE_OFFLINE_AFTER_S (device liveness)

    class Operator(models.TextChoices):
        ABOVE = "gt", "metric > high"
        BELOW = "lt", "metric < low"
        OUTSIDE = "outside", "metric outside [low, high]"

    name = models.CharField(max_length=120, unique=True)
    device_type = models.CharField(max_length=64)
    site_id = models.CharField(max_length=64, blank=True, help_text="empty: every site")
    device_id = models.CharField(max_length=64, blank=True, help_text="empty: every device of the type")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.METRIC)
    metric = models.CharField(max_length=64, blank=True)
    operator = models.CharField(max_length=8, choices=Operator.choices, blank=True)
    low = models.FloatField(null=True, blank=True)
    high = models.FloatField(null=True, blank=True)
    # Clears only once the value is back inside the limit by this margin: no flapping on the limit.
    hysteresis = models.FloatField(default=0.0)
    # STATE rules: the reported states that raise it (comma separated, e.g. "ALERT,CRITICAL").
    states = models.CharField(max_length=64, blank=True)
    for_s = models.FloatField(default=0.0, help_text="the condition must hold this long (device time) before the alarm is raised")
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.MAJOR)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device_type", "name"]
        constraints = [
            models.CheckConstraint(
                name="alarm_rule_metric_complete",
                condition=~Q(kind="metric") | (~Q(metric="") & ~Q(operator="")),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RuleState(models.Model):
    """A (rule, device) pair whose condition holds or whose alarm is open: the shared ``for`` timer."""

    rule = models.ForeignKey(AlarmRule, on_delete=models.CASCADE)
    device_id = models.CharField(max_length=64)
    breach_since = models.DateTimeField(null=True)  # device time the condition started to hold
    last_ts = models.DateTimeField()  # newest reading evaluated (older ones are ignored)
    alarm = models.ForeignKey("Alarm", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "device_id"], name="alarm_rule_state_unique")]
        # Each batch locks the states of its devices.
        indexes = [models.Index(fields=["device_id"], name="alarm_rule_state_device")]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.device_id}"


class Alarm(models.Model):
    # PROTECT: a rule with alarm history is disabled, not deleted (``services.rule_delete``).
    rule = models.ForeignKey(AlarmRule, on_delete=models.PROTECT, related_name="alarms")
    device_id = models.CharField(max_length=64)
    device_type = models.CharField(max_length=64)
    site_id = models.CharField(max_length=64)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    active = models.BooleanField(default=True)
    acknowledged = models.BooleanField(default=False)
    count = models.PositiveIntegerField(default=1)  # breaching readings seen while open
    last_value = models.FloatField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-active", "-first_at"]
        constraints = [
            # One open alarm per (rule, device); cleared ones stay as history.
            models.UniqueConstraint(
                fields=["rule", "device_id"], condition=Q(active=True), name="alarm_one_active_per_rule_device"
            ),
        ]
        indexes = [models.Index(fields=["active", "site_id", "severity"], name="alarm_active_site_sev")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.device_id} ({self.status})"

    @property
    def status(self) -> str:
        return f"{'active' if self.active else 'cleared'}_{'ack' if self.acknowledged else 'unack'}"


class AlarmTransition(models.Model):
    class Action(models.TextChoices):
        RAISED = "raised"
        CLEARED = "cleared"
        ACKNOWLEDGED = "acknowledged"

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)  # None: the engine
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M:%S}"


class Silence(models.Model):
    """A maintenance window: alarms it matches are recorded, not notified."""

    rule = models.ForeignKey(AlarmRule, null=True, blank=True, on_delete=models.CASCADE)
    site_id = models.CharField(max_length=64, blank=True)
    device_id = models.CharField(max_length=64, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(name="silence_has_scope", condition=Q(rule__isnull=False) | ~Q(site_id="") | ~Q(device_id="")),
            models.CheckConstraint(name="silence_period_ordered", condition=Q(ends_at__gt=models.F("starts_at"))),
        ]

    def __str__(self) -> str:
        return f"{self.reason} (until {self.ends_at:%Y-%m-%d %H:%M})"


class Receiver(models.Model):
    """Where notifications go: a signed webhook or an email address, routed by severity and site."""

    name = models.CharField(max_length=120, unique=True)
    webhook_url = models.URLField(blank=True)
    # The HMAC-SHA256 key for X-Tier0-Signature; for production put it in the environment and
    # name the variable here as "env:VARNAME" (the admin then never shows the key).
    secret = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    min_severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    sites = models.CharField(max_length=500, blank=True, help_text="comma-separated site ids; empty: every site")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(name="receiver_has_target", condition=~Q(webhook_url="") | ~Q(email=""))]

    def __str__(self) -> str:
        return self.name


class NotificationOutbox(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # gave up after NOTIFIER_MAX_ATTEMPTS
        SILENCED = "silenced"  # recorded, not sent

    class Event(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"

    key = models.UUIDField(default=uuid.uuid4, unique=True)  # the idempotency key receivers dedupe on
    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="notifications")
    receiver = models.ForeignKey(Receiver, on_delete=models.CASCADE)
    event = models.CharField(max_length=8, choices=Event.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="alarm_outbox_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.key} ({self.status})"


class Delivery(models.Model):
    """One attempt to deliver an outbox row: the delivery log."""

    notification = models.ForeignKey(NotificationOutbox, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.notification_id}: {'ok' if self.ok else self.error}"
