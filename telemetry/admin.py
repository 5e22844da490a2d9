"""Admin views of telemetry: latest device state, readings, rollups, dead letters."""

from django.contrib import admin

from telemetry.device_types import DEVICE_TYPES
from telemetry.models import DeadLetter, DeviceState, RollupHour, RollupMinute, SchemaSeen, TelemetryReading


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


@admin.register(SchemaSeen)
class SchemaSeenAdmin(admin.ModelAdmin):
    """Schema drift: every metric name and state each device type has sent, listed or not."""

    list_display = ["device_type", "kind", "name", "listed", "count", "first_seen", "last_seen"]
    list_filter = ["kind", "device_type"]
    search_fields = ["device_type", "name"]

    @admin.display(boolean=True, description="listed by the type")
    def listed(self, obj: SchemaSeen) -> bool | None:
        if obj.kind != SchemaSeen.KIND_METRIC:
            return None
        device_type = DEVICE_TYPES.get(obj.device_type)
        return device_type is not None and obj.name in device_type.metric_names

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
