"""RAG data: documents and their passages."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class Document(models.Model):
    """An ingested PDF, identified by its content digest."""

    title = models.CharField(max_length=512)
    path = models.CharField(max_length=1024)
    sha256 = models.CharField(max_length=64, unique=True)
    pages = models.IntegerField(default=0)
    embedding_model = models.CharField(max_length=128, blank=True, help_text="set when passages carry embeddings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "rag_document"

    def __str__(self) -> str:
        return self.title


class Passage(models.Model):
    """A piece of one page: prose paragraphs, or a table with its heading."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="passages")
    page = models.IntegerField(help_text="1-based PDF page number")
    ordinal = models.IntegerField(help_text="position on the page")
    heading = models.TextField(blank=True)
    text = models.TextField()
    has_table = models.BooleanField(default=False, help_text="holds table rows or key figures")
    search = SearchVectorField(null=True)
    embedding = ArrayField(models.FloatField(), null=True)

    class Meta:
        db_table = "rag_passage"
        constraints = [models.UniqueConstraint(fields=["document", "page", "ordinal"], name="rag_passage_unique")]
        indexes = [GinIndex(fields=["search"], name="rag_passage_search_gin")]

    def __str__(self) -> str:
        return f"page {self.page} #{self.ordinal}"
