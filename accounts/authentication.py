"""The one API token scheme: django-rest-knox's hashed, expiring tokens.

Knox stores only a SHA-512 digest of each token and answers to the ``Token``
header prefix. Plain ``rest_framework.authtoken`` tokens (40 hex characters,
stored in clear) were retired: one sent now gets a 401 that says so and where a
new token comes from, instead of a bare "Invalid token".
"""

import re

from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

RETIRED_TOKEN = re.compile(rb"^[0-9a-f]{40}$")
RETIRED_MESSAGE = (
    "This is an old-style API token; those were retired. "
    "Get a new one with POST /api/auth/login (see the README, 'API tokens')."
)


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) == 2 and parts[0].lower() == b"token" and RETIRED_TOKEN.match(parts[1]):
            raise AuthenticationFailed(RETIRED_MESSAGE)
        return super().authenticate(request)
