"""Admin views of telemetry: latest device state, readings, dead letters."""

from django.contrib import admin

from telemetry.models import DeadLetter, DeviceState, TelemetryReading


@admin.register(DeviceState)
class DeviceStateAdmin(admin.ModelAdmin):
    list_display = ["device_id", "device_type", "site_id", "state", "timestamp_utc", "updated_at"]
    list_filter = ["state", "device_type", "site_id"]
    search_fields = ["device_id"]


@admin.register(TelemetryReading)
class TelemetryReadingAdmin(admin.ModelAdmin):
    # The history is append-only: readings are viewed, never edited here.
    list_display = ["device_id", "device_type", "site_id", "timestamp_utc", "received_at"]
    list_filter = ["device_type", "site_id"]
    search_fields = ["device_id"]
    list_display_links = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["created_at", "source", "topic", "reason"]
    list_filter = ["source"]
    search_fields = ["topic", "reason"]
