"""Dashboard writes: the SRE sign-in accounts (no user is built into the project)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction


@transaction.atomic
def sre_user_create(*, username: str, password: str, staff: bool = True, update: bool = False):
    """Create (or, with ``update``, reset) an SRE sign-in account.

    Staff accounts may run staff-only actions such as a failover; viewers see
    the dashboard only. Raises ``ValueError`` for an existing user without
    ``update`` and ``django.core.exceptions.ValidationError`` for a weak password.
    """
    model = get_user_model()
    user = model.objects.filter(username=username).first()
    if user is not None and not update:
        raise ValueError(f"user {username!r} exists already (use --update to reset the password)")
    if user is None:
        user = model(username=username)
    validate_password(password, user)
    user.set_password(password)
    user.is_staff = staff
    user.is_active = True
    user.save()
    return user
