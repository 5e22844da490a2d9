"""Admin building blocks shared by the apps."""


class ReadOnlyAdminMixin:
    """A record the system writes (an audit trail): staff may look, nobody edits it in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
