"""Reads for API tokens: a user's own live tokens, never their secrets."""

from django.utils import timezone
from knox.models import AuthToken


def token_list(*, user, current: AuthToken | None = None) -> list[dict]:
    now = timezone.now()
    tokens = AuthToken.objects.filter(user=user).exclude(expiry__lt=now).order_by("-created")
    return [
        {
            "id": token.token_key,
            "created": token.created,
            "expiry": token.expiry,
            "current": current is not None and token.digest == current.digest,
        }
        for token in tokens
    ]
