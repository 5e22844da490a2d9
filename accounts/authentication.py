"""The one API token scheme: django-rest-knox's hashed, expiring tokens.

Knox stores only a SHA-512 digest of each token and answers to the ``Token``
header prefix. Plain ``rest_framework.authtoken`` tokens (40 hex characters,
stored in clear) were retired: one sent now gets a 401 that says so and where a
new token comes from, instead of a bare "Invalid token".
"""

import re

from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

RETIRED_TOKEN = re.compile(rb"^[0-9a-f]{40}$")
RETIRED_MESSAGE = (
    "This is an old-style API token; those were retired. Get a new one with POST /api/auth/login (see the README, 'API tokens')."
)


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's class; retired tokens get a clear message, and one query less per request.

    knox's ``_cleanup_token`` also lists and prunes all the user's *other* tokens on
    every request (a second query each time). Here only the presented token's own
    expiry is checked (an expired one is deleted and refused, as in knox); the
    others are pruned when the user signs in again (``accounts.services.token_issue``).
    """

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) == 2 and parts[0].lower() == b"token" and RETIRED_TOKEN.match(parts[1]):
            raise AuthenticationFailed(RETIRED_MESSAGE)
        return super().authenticate(request)
