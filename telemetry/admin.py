"""Admin views of telemetry: latest device state, readings, rollups, dead letters."""

from django.contrib import admin

from telemetry.models import DeadLetter, DeviceState, RollupHour, RollupMinute, TelemetryReading


@admin.register(DeviceState)
class DeviceStateAdmin(admin.ModelAdmin):
    list_display = ["device_id", "device_type", "site_id", "state", "timestamp_utc", "last_seen", "offline_since"]
    list_filter = ["state", "device_type", "site_id"]
    search_fields = ["device_id"]


class ReadOnlyAdmin(admin.ModelAdmin):
    list_display_links = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RollupMinute, RollupHour)
class RollupAdmin(ReadOnlyAdmin):
    # Derived from readings by the device monitor: viewed, never edited.
    list_display = ["device_id", "bucket", "n"]
    search_fields = ["device_id"]


@admin.register(TelemetryReading)
class TelemetryReadingAdmin(ReadOnlyAdmin):
    # The history is append-only: readings are viewed, never edited here.
    list_display = ["device_id", "device_type", "site_id", "timestamp_utc", "received_at"]
    list_filter = ["device_type", "site_id"]
    search_fields = ["device_id"]


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["created_at", "source", "topic", "reason"]
    list_filter = ["source"]
    search_fields = ["topic", "reason"]
