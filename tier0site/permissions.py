"""The API's default access rule: any signed-in user reads, only staff change shared data.

It is the project-wide default (REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]), so a
new state-changing endpoint is staff-only unless it says otherwise. Views that act
on the caller's own things (their API tokens) or only read (POST /api/query asks a
question) opt out with ``IsAuthenticated``.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class StaffWritesOnly(BasePermission):
    message = "Only staff may change shared data; signed-in users may read."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff
