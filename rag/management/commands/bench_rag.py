"""Benchmark the question pipeline: ``manage.py bench_rag --json``.

Measures, offline: document-question latency (p50/p95 over the bp question
set, repeated), log-question latency over a freshly generated log of
``--log-lines`` lines (1,000,000 by default), and ``ingest_logs`` throughput on
that file. The benchmark's own log rows (and the report, if it had to ingest
it) are removed afterwards.
"""

import json
import statistics
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from logs.models import LogFile
from logs.services import log_file_delete, log_file_ingest
from rag.answering import answer_question
from rag.logsim import generate_lines
from rag.models import Document
from rag.services import document_ingest

DEFAULT_REPORT = Path(settings.SEED_DATA_DIR) / "documents/bp-annual-report-and-form-20f-2024.pdf"
DEFAULT_QUESTIONS = Path(settings.BASE_DIR) / "tests/rag/bp_questions.json"
LOG_QUESTIONS = [
    "List the most frequent IP devices generating Error 400",
    "Which IPs made the most requests?",
    "Which client IPs caused the most 5xx errors in the last 6 hours?",
    "What is the error rate over the last 24 hours?",
    "What is the p95 response time today?",
    "Show the top 5 IP addresses with 404 errors yesterday",
    "What are the response time percentiles over the last 90 minutes?",
    "Which IPs generated the most server errors in the last hour?",
]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Offline latency of document and log questions, and ingest_logs throughput; one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print only the JSON line")
        parser.add_argument("--report", default=str(DEFAULT_REPORT))
        parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument("--log-lines", type=int, default=1_000_000)

    def handle(self, *args, **options):
        out: dict = {"measured": "offline provider; latency of answer_question() in-process; ingest of a generated log"}
        out.update(self._documents(options))
        out.update(self._logs(options))
        out["targets"] = {"document_p95_ms": 300, "log_p95_ms": 200, "ingest_lines_per_s": 100_000}
        line = json.dumps(out)
        self.stdout.write(line)

    def _documents(self, options) -> dict:
        report = Path(options["report"])
        questions_path = Path(options["questions"])
        if not questions_path.is_file():
            raise CommandError(f"question set not found: {questions_path}")
        questions = json.loads(questions_path.read_text())
        created = None
        if not Document.objects.exists():
            if not report.is_file():
                raise CommandError(f"no document indexed and report not found: {report}")
            started = time.perf_counter()
            result = document_ingest(path=report)
            created = result.document_id
            ingest_s = time.perf_counter() - started
        else:
            ingest_s = None
        try:
            answer_question(questions[0]["question"], use_configured=False)  # warm caches once
            timings, correct = [], 0
            for round_number in range(options["rounds"]):
                for item in questions:
                    started = time.perf_counter()
                    result = answer_question(item["question"], use_configured=False)
                    timings.append((time.perf_counter() - started) * 1000)
                    if round_number == 0:
                        expect = item["expect"] if isinstance(item["expect"], list) else [item["expect"]]
                        text = result["answer"].split("\n\nSite images:")[0]
                        pages = [s["page"] for s in result["sources"] if "page" in s][:3]
                        correct += any(e in text for e in expect) and any(p in item["pages"] for p in pages)
        finally:
            if created is not None:
                Document.objects.filter(pk=created).delete()
        return {
            "document_questions": len(questions),
            "document_score": f"{correct}/{len(questions)}",
            "document_p50_ms": round(statistics.median(timings), 1),
            "document_p95_ms": round(_p(timings, 0.95), 1),
            "document_ingest_s": None if ingest_s is None else round(ingest_s, 1),
        }

    def _logs(self, options) -> dict:
        lines = options["log_lines"]
        with tempfile.TemporaryDirectory(prefix="bench_rag_") as tmp:
            path = Path(tmp) / "bench.log"
            with path.open("w", encoding="utf-8") as handle:
                batch = []
                for line in generate_lines(lines=lines, seed=int(time.time())):
                    batch.append(line)
                    if len(batch) == 50_000:
                        handle.write("\n".join(batch) + "\n")
                        batch = []
                if batch:
                    handle.write("\n".join(batch) + "\n")
            result = log_file_ingest(path=path)

        log_file = LogFile.objects.filter(path=str(path.resolve())).order_by("-id").first()
        try:
            timings = []
            for question in LOG_QUESTIONS:
                answer_question(question, use_configured=False)  # warm
            for _ in range(options["rounds"]):
                for question in LOG_QUESTIONS:
                    started = time.perf_counter()
                    answer_question(question, use_configured=False)
                    timings.append((time.perf_counter() - started) * 1000)
        finally:
            if log_file is not None:
                log_file_delete(log_file_id=log_file.pk)
        return {
            "log_lines": result.lines_read,
            "ingest_lines_per_s": round(result.lines_read / result.seconds) if result.seconds else None,
            "ingest_s": round(result.seconds, 2),
            "log_questions": len(timings),
            "log_p50_ms": round(statistics.median(timings), 1),
            "log_p95_ms": round(_p(timings, 0.95), 1),
        }
