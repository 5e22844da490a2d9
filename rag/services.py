"""Document writes: ``document_ingest`` reads a PDF with pypdf, splits pages into
passages (see ``rag.pdfparse``), indexes them for full-text search and, when an
embedding provider is configured, stores their embeddings.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from rag.models import Document, Passage

logger = logging.getLogger(__name__)

READ_BYTES = 8 * 1024 * 1024


@dataclass
class DocumentIngestResult:
    path: str
    status: str = "ingested"  # ingested | unchanged | skipped
    pages: int = 0
    passages: int = 0
    embedded: int = 0
    reason: str = ""
    document_id: int | None = None


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(READ_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def document_ingest(
    *,
    path: Path,
    pages: list[int] | None = None,
    embedder=None,
    progress: Callable[[int], None] | None = None,
) -> DocumentIngestResult:
    """Index one PDF; unreadable files are reported (``status="skipped"``), never raised.

    ``pages`` limits ingest to those 1-based page numbers (tests use a subset).
    ``embedder`` (see ``rag.providers``) adds embeddings when given.
    """
    from rag.panels import panel_passages
    from rag.pdfparse import (
        PdfUnreadable,
        footnote_words,
        has_table,
        page_shapes,
        pdf_pages,
        running_lines,
        split_page,
        strip_footnotes,
    )

    path = Path(path)
    result = DocumentIngestResult(path=str(path))
    try:
        digest = _digest(path)
    except OSError as exc:
        result.status, result.reason = "skipped", f"cannot read: {exc}"
        return result
    if pages:
        # A page subset is a different index from the whole file.
        digest = hashlib.sha256(f"{digest}:{sorted(set(pages))}".encode()).hexdigest()
    existing = Document.objects.filter(sha256=digest).first()
    if existing is not None and (embedder is None or existing.embedding_model):
        result.status, result.document_id, result.pages = "unchanged", existing.pk, existing.pages
        result.passages = existing.passages.count()
        return result
    if existing is None:
        try:
            _count, texts, panels = pdf_pages(path, sorted(set(pages)) if pages else None)
        except PdfUnreadable as exc:
            result.status, result.reason = "skipped", str(exc)
            logger.warning("skipped %s: %s", path, exc)
            return result
        wanted = sorted(texts)
        running = running_lines(texts)
        glued = footnote_words(texts)
        rows = []
        kept: set[str] = set()  # running lines are indexed once, on the first page that has them
        for done, number in enumerate(wanted, start=1):
            first_here = (page_shapes(texts[number]) & running) - kept
            kept |= first_here
            parts = split_page(strip_footnotes(texts[number], glued), running - first_here)
            if number in panels:
                cards = [strip_footnotes(card, glued) for card in panels[number]]
                parts.extend(panel_passages(strip_footnotes(texts[number], glued), cards))
            for ordinal, (heading, text) in enumerate(parts):
                rows.append((number, ordinal, heading, text))
            if progress is not None:
                progress(done)
        with transaction.atomic():
            document = Document.objects.create(title=_title(path), path=str(path.resolve()), sha256=digest, pages=len(wanted))
            Passage.objects.bulk_create(
                [Passage(document=document, page=p, ordinal=o, heading=h, text=t, has_table=has_table(t)) for p, o, h, t in rows],
                batch_size=1000,
            )
            with connection.cursor() as cursor:
                # Headings weigh more than body text in the rank.
                cursor.execute(
                    "UPDATE rag_passage SET search = setweight(to_tsvector('english', heading), 'A')"
                    " || setweight(to_tsvector('english', text), 'B') WHERE document_id = %s",
                    [document.pk],
                )
        result.passages = len(rows)
    else:
        document = existing
        result.passages = document.passages.count()
    result.pages, result.document_id = document.pages, document.pk
    if embedder is not None:
        from rag.providers import ProviderUnavailable

        try:
            result.embedded = _embed_passages(document=document, embedder=embedder)
        except ProviderUnavailable as exc:
            # Full-text search works without embeddings; a later run embeds what is missing.
            result.reason = f"embeddings incomplete ({exc}); run ingest_documents again to finish them"
            logger.warning("%s: %s", path, result.reason)
    return result


def _embed_passages(*, document: Document, embedder) -> int:
    """Store embeddings for passages without one; the embedder batches and retries."""
    todo = list(document.passages.filter(embedding__isnull=True).order_by("page", "ordinal"))
    done = 0
    for start in range(0, len(todo), 96):
        batch = todo[start : start + 96]
        vectors = embedder.embed([f"{p.heading}\n{p.text}" for p in batch], input_type="search_document")
        for passage, vector in zip(batch, vectors, strict=True):
            passage.embedding = vector
        Passage.objects.bulk_update(batch, ["embedding"])  # each batch kept even if a later one fails
        done += len(batch)
    Document.objects.filter(pk=document.pk).update(embedding_model=embedder.model)
    return done


def _title(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip() or path.name
