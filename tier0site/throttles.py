"""DRF's anon/user throttles, with named users exempt (API_THROTTLE_EXEMPT_USERS).

The exemption exists for the API benchmark's own user, which offers hundreds of
requests a second on purpose; it is a settings list, so it costs nothing per
request and no user can grant it to themselves.
"""

from django.conf import settings
from rest_framework import throttling


def _exempt(request) -> bool:
    user = request.user
    return bool(user and user.is_authenticated and user.get_username() in settings.API_THROTTLE_EXEMPT_USERS)


class UserRateThrottle(throttling.UserRateThrottle):
    def allow_request(self, request, view):
        return _exempt(request) or super().allow_request(request, view)
