"""The notifier: sends the outbox (signed webhooks, emails), retrying with backoff, logging each attempt.

Each due row is taken with ``FOR UPDATE SKIP LOCKED`` (several notifiers share
the outbox), sent, and its attempt recorded in the same transaction that holds
the row. A crash between sending and that commit leaves the row pending: it is
sent again with the same idempotency key, which the receiver uses to drop the
repeat (at least once, never lost). Webhook bodies are JSON signed with
HMAC-SHA256 of the receiver's secret: ``X-Tier0-Signature: sha256=<hex>``.
"""

import hashlib
import hmac
import json
import logging
import os
import time
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from alarms.models import Delivery, NotificationOutbox, Receiver

logger = logging.getLogger(__name__)
DELIVERIES = Counter("tier0_alarm_notifications_total", "Notification delivery attempts", ["channel", "outcome"])


class SendError(Exception):
    """The receiver refused or could not be reached (the attempt is retried)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def receiver_secret(receiver: Receiver) -> str:
    """The HMAC key: the value itself, or "env:NAME" to read it from the environment."""
    if receiver.secret.startswith("env:"):
        return os.environ.get(receiver.secret[4:], "")
    return receiver.secret


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_send(receiver: Receiver, row: NotificationOutbox) -> int:
    body = json.dumps(row.payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(row.key),
        "X-Tier0-Event": row.event,
        "X-Tier0-Signature": signature(receiver_secret(receiver), body),
    }
    try:
        response = httpx.post(receiver.webhook_url, content=body, headers=headers, timeout=settings.NOTIFIER_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise SendError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    if response.status_code >= 300:
        raise SendError(f"HTTP {response.status_code}", response.status_code)
    return response.status_code


def email_send(receiver: Receiver, row: NotificationOutbox) -> None:
    alarm = row.payload["alarm"]
    word = "RESOLVED" if row.event == NotificationOutbox.Event.RESOLVED else alarm["severity"].upper()
    subject = f"[Tier-0 {word}] {alarm['rule']} on {alarm['device_id']} ({alarm['site_id']})"
    text = f"{alarm['detail']}\n\n{json.dumps(row.payload, indent=2, sort_keys=True)}\n\nIdempotency-Key: {row.key}\n"
    try:
        send_mail(subject, text, None, [receiver.email], fail_silently=False)
    except Exception as exc:
        raise SendError(f"{type(exc).__name__}: {exc}"[:300]) from exc


def backoff_s(attempts: int) -> float:
    return min(settings.NOTIFIER_BACKOFF_FIRST_S * 2 ** (attempts - 1), settings.NOTIFIER_BACKOFF_CAP_S)


def deliver_one() -> NotificationOutbox | None:
    """Send the next due notification, if any; record the attempt. Returns the row handled."""
    with transaction.atomic():
        row = (
            NotificationOutbox.objects.select_for_update(skip_locked=True)
            .select_related("receiver")
            .filter(status=NotificationOutbox.Status.PENDING, next_attempt_at__lte=timezone.now())
            .order_by("next_attempt_at", "id")
            .first()
        )
        if row is None:
            return None
        _attempt(row)
        return row


def _attempt(row: NotificationOutbox) -> None:
    receiver = row.receiver
    channel = "webhook" if receiver.webhook_url else "email"
    started = time.monotonic()
    status_code, error = None, ""
    try:
        if receiver.webhook_url:
            status_code = webhook_send(receiver, row)
        if receiver.email:
            email_send(receiver, row)
    except SendError as exc:
        status_code, error = exc.status_code, str(exc)
    now = timezone.now()
    row.attempts += 1
    Delivery.objects.create(
        notification=row,
        attempt=row.attempts,
        at=now,
        ok=not error,
        status_code=status_code,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if not error:
        row.status, row.sent_at = NotificationOutbox.Status.SENT, now
    elif row.attempts >= settings.NOTIFIER_MAX_ATTEMPTS:
        row.status = NotificationOutbox.Status.FAILED
    else:
        row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts))
    row.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at"])
    DELIVERIES.labels(channel, "sent" if not error else row.status).inc()
    if error:
        logger.warning("notification not delivered", extra={"key": str(row.key), "attempt": row.attempts, "error": error})


def deliver_due(limit: int = 100) -> int:
    """Send up to ``limit`` due notifications; the number handled."""
    handled = 0
    while handled < limit and deliver_one() is not None:
        handled += 1
    return handled
