"""Writes for API tokens: issue and revoke, always for their owner."""

from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings


@transaction.atomic
def token_issue(*, user) -> tuple[AuthToken, str]:
    """A new token for ``user``: the stored record and the token text (shown once, never stored).

    Expired tokens are dropped; past ``TOKEN_LIMIT_PER_USER`` live tokens the
    oldest go, so a script that signs in again and again cannot pile them up.
    """
    mine = AuthToken.objects.filter(user=user)
    mine.filter(expiry__lt=timezone.now()).delete()
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit:
        keep = list(mine.order_by("-created").values_list("digest", flat=True)[: limit - 1])
        mine.exclude(digest__in=keep).delete()
    return AuthToken.objects.create(user=user)


def token_revoke(*, user, token_id: str) -> bool:
    """Revoke ``user``'s token whose public id is ``token_id``; False if the user has none such."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_id).delete()
    return bool(deleted)
