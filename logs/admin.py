"""Admin view of ingested log files.

Log lines and their hourly rollups have composite primary keys, which the
Django admin does not support; they are read through /api/logs instead.
"""

from django.contrib import admin

from logs.models import LogFile


@admin.register(LogFile)
class LogFileAdmin(admin.ModelAdmin):
    list_display = ["path", "lines_read", "lines_stored", "malformed", "complete", "updated_at"]
    search_fields = ["path", "sha256"]
