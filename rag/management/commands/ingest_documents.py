"""Index PDFs for question answering: ``manage.py ingest_documents PATH...``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rag.providers import configured_provider
from rag.services import document_ingest
from tier0site.progress import Progress


def _page_list(spec: str) -> list[int]:
    pages: list[int] = []
    for part in spec.split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            pages.extend(range(int(low), int(high) + 1))
        elif part.strip():
            pages.append(int(part))
    return pages


class Command(BaseCommand):
    help = "Read PDFs (pypdf), split pages into passages, index them for full-text search (and embeddings with Cohere)."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="PDF files or directories of PDFs")
        parser.add_argument("--pages", default="", help="only these 1-based pages, e.g. 1-20,56,58")
        parser.add_argument("--no-embeddings", action="store_true", help="skip embeddings even when Cohere is configured")

    def handle(self, *args, **options):
        try:
            pages = _page_list(options["pages"]) if options["pages"] else None
        except ValueError as exc:
            raise CommandError(f"--pages: {exc}") from exc
        embedder = None if options["no_embeddings"] else configured_provider()
        files: list[Path] = []
        for raw in options["paths"]:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(path.glob("**/*.pdf")))
            else:
                files.append(path)
        skipped = 0
        for path in files:
            progress = Progress(f"pages of {path.name}", None, unit="page")
            result = document_ingest(path=path, pages=pages, embedder=embedder, progress=progress)
            progress.close()
            if result.status == "skipped":
                skipped += 1
                self.stderr.write(f"skipped {path}: {result.reason}")
            elif result.status == "unchanged":
                self.stdout.write(f"unchanged {path}: already indexed ({result.passages} passages), nothing to do")
            else:
                self.stdout.write(
                    f"ingested {path}: {result.pages} pages, {result.passages} passages, {result.embedded} embedded"
                )
                if result.reason:
                    self.stderr.write(f"  {result.reason}")
        if skipped and skipped == len(files):
            raise CommandError(f"no file could be ingested ({skipped} skipped)")
