"""Thin RAG API view: questions."""

from functools import partial

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from rag.answering import QuestionError, answer_question
from rag.api.serializers import QueryInputSerializer, QueryOutputSerializer
from tier0site.api import validated_input

_validated = partial(validated_input, prefix="")


class QueryApi(APIView):
    """Answer a question about the ingested documents, the system logs or the site images."""

    permission_classes = [IsAuthenticated]  # a question changes nothing: any signed-in user
    throttle_scope = "query"  # each answer may call Cohere (cost): tighter than the user rate

    @extend_schema(request=QueryInputSerializer, responses={200: QueryOutputSerializer})
    def post(self, request):
        data = _validated(QueryInputSerializer, request.data)
        try:
            result = answer_question(data["question"], use_configured=not data["offline"])
        except QuestionError as exc:
            raise ValidationError({"error": str(exc)}) from exc
        return Response(result)
