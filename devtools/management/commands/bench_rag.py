"""Benchmark the question pipeline: ``manage.py bench_rag --json``.

Measures, offline: accuracy per document (tuning and held-out questions over
the bp report, the assignment brief and the gnuplot manual; see
``devtools.rag_eval``), routing accuracy and abstention, document-question
latency (p50/p95 over all of them, repeated), log-question latency over a
freshly generated log of ``--log-lines`` lines (1,000,000 by default), and
``ingest_logs`` throughput on that file. The benchmark's own log rows (and the
documents, if it had to ingest them) are removed afterwards.
"""

import json
import statistics
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devtools.logsim import generate_lines
from devtools.rag_eval import ensure_documents, load_sets, per_document, score_documents, score_routing
from logs.models import LogFile
from logs.services import log_file_delete, log_file_ingest
from rag.answering import answer_question
from rag.models import Document

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
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Offline latency of document and log questions, and ingest_logs throughput; one JSON line."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print only the JSON line")
        parser.add_argument("--show-misses", action="store_true", help="list the questions answered wrongly")
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
        documents, questions, routing = load_sets()
        titles, created, missing = ensure_documents(documents)
        if "bp" not in titles:
            raise CommandError("the bp report is not on this machine (seed data missing)")
        try:
            answer_question(questions[0]["question"], use_configured=False)  # warm caches once
            scores = score_documents(questions, titles, rounds=options["rounds"])
            routed = score_routing(routing)
        finally:
            Document.objects.filter(pk__in=created).delete()
        bp = scores.counts.get(("bp", "tune"), [0, 0])
        return {
            "documents": sorted(titles.values()),
            "documents_missing": missing,
            "document_questions": sum(asked for _, asked in scores.counts.values()),
            "document_score": f"{bp[0]}/{bp[1]}",  # the report's tuning set, as before
            "per_document": per_document(scores),
            **routed,
            "document_p50_ms": round(statistics.median(scores.timings_ms), 1),
            "document_p95_ms": round(_p(scores.timings_ms, 0.95), 1),
            "misses": scores.misses if options["show_misses"] else len(scores.misses),
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
