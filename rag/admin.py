"""Admin views of ingested documents and their passages."""

from django.contrib import admin

from rag.models import Document, Passage


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
