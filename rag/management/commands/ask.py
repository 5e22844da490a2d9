"""Ask a question from the command line: ``manage.py ask "QUESTION" [--json]``."""

import json

from django.core.management.base import BaseCommand, CommandError

from rag.answering import QuestionError, answer_question


class Command(BaseCommand):
    help = "Answer a question about documents, logs or site images (same JSON as POST /api/query)."

    def add_arguments(self, parser):
        parser.add_argument("question")
        parser.add_argument("--json", action="store_true", help="print the full JSON answer")
        parser.add_argument("--offline", action="store_true", help="do not call Cohere even when configured")

    def handle(self, *args, **options):
        try:
            result = answer_question(options["question"], use_configured=not options["offline"])
        except QuestionError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
            return
        self.stdout.write(f"[{result['type']} / {result['provider']}] {result['answer']}")
        for source in result["sources"]:
            if "document" in source:
                self.stdout.write(f"  - {source['document']}, page {source['page']}: {source['snippet'][:160]}")
            elif "query" in source:
                self.stdout.write(f"  - query: {source['query'][:200]}")
            else:
                self.stdout.write(f"  - image: {json.dumps(source.get('image', source))[:200]}")
