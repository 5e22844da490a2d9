"""Admin views of ingested documents and log files.

Log lines and their hourly rollups have composite primary keys, which the
Django admin does not support; they are read through /api/logs instead.
"""

from django.contrib import admin

from rag.models import Document, LogFile, Passage


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "pages", "embedding_model", "created_at"]
    search_fields = ["title", "path"]


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    list_display = ["document", "page", "ordinal", "heading", "has_table"]
    list_filter = ["document", "has_table"]
    search_fields = ["heading", "text"]
    exclude = ["search", "embedding"]


@admin.register(LogFile)
class LogFileAdmin(admin.ModelAdmin):
    list_display = ["path", "lines_read", "lines_stored", "malformed", "complete", "updated_at"]
    search_fields = ["path", "sha256"]
