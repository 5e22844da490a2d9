"""Admin views of the serving region and the failover record (read-only: the failover code writes them)."""

from django.contrib import admin

from failover.models import ActiveRegion, DrillWrite, FailoverEvent, WriteProbe
from tier0site.admin_mixins import ReadOnlyAdminMixin


@admin.register(FailoverEvent)
class FailoverEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["started_at", "kind", "status", "source_region", "target_region", "total_s", "requested_by"]
    list_filter = ["kind", "status", "target_region"]


@admin.register(ActiveRegion)
class ActiveRegionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["region", "changed_at", "event"]


@admin.register(WriteProbe)
class WriteProbeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["written_at", "region", "server"]


@admin.register(DrillWrite)
class DrillWriteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run_id", "seq", "written_at"]
    list_filter = ["run_id"]
