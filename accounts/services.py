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


# What the README sends a staff SRE to the admin for: look at every record of the
# pipelines (dead letters, sessions, documents, failover history) and review images.
SRE_STAFF_GROUP = "SRE staff"
SRE_STAFF_VIEW_APPS = ("telemetry", "sessions_app", "rag", "logs", "imaging", "failover")
SRE_STAFF_EXTRA = (("imaging", "change_imagerecord"),)


def sre_staff_group():
    """The group that gives staff SREs the admin permissions they need, no more (no users, no tokens)."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    group, _ = Group.objects.get_or_create(name=SRE_STAFF_GROUP)
    wanted = Q(content_type__app_label__in=SRE_STAFF_VIEW_APPS, codename__startswith="view_")
    for app_label, codename in SRE_STAFF_EXTRA:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.set(Permission.objects.filter(wanted))
    return group
