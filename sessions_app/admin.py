"""Admin views of user sessions and site snapshots."""

from django.contrib import admin

from sessions_app.models import SiteSnapshot, UserSession


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ["session_id", "user_id", "username", "connection_status", "region", "site_id", "login_time", "last_activity"]
    list_filter = ["connection_status", "region", "site_id"]
    search_fields = ["session_id", "user_id", "username"]


@admin.register(SiteSnapshot)
class SiteSnapshotAdmin(admin.ModelAdmin):
    list_display = ["message_id", "site_id", "timestamp_utc", "active_users", "active_connections", "average_latency_ms"]
    list_filter = ["site_id"]
    search_fields = ["message_id"]
