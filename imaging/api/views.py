"""Thin image API views: validate the query, call a selector or service, answer."""

from functools import partial
from urllib.parse import urlencode

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from imaging import selectors, services
from imaging.compliance import REVIEWABLE
from imaging.services import CATEGORY_TYPES, SITE_IDS, ReviewError
from imaging.stores import store_default
from tier0site.api import validated_input

_validated = partial(validated_input, prefix="Invalid parameter ")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanField(serializers.Field):
    """true/false/1/0 only: a typo must be a 400, not a silent "false"."""

    default_error_messages = {"invalid": "must be true or false."}

    def to_internal_value(self, data):
        value = str(data).strip().lower()
        if value in ("true", "1", "yes"):
            return True
        if value in ("false", "0", "no"):
            return False
        self.fail("invalid")

    def to_representation(self, value):
        return value


class ImageFilterSerializer(serializers.Serializer):
    device_type = serializers.ChoiceField(choices=sorted(CATEGORY_TYPES.values()), required=False)
    site_id = serializers.ChoiceField(choices=list(SITE_IDS), required=False)
    has_hard_hat = StrictBooleanField(required=False)
    has_safety_vest = StrictBooleanField(required=False)
    has_inspection_equipment = StrictBooleanField(required=False)
    reviewed = StrictBooleanField(required=False)
    min_compliance = serializers.FloatField(required=False, min_value=0, max_value=100)
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)


class SimilarQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=5)


class WordCloudQuerySerializer(serializers.Serializer):
    site_id = serializers.ChoiceField(choices=list(SITE_IDS), required=False)


class ReviewSerializer(serializers.Serializer):
    """Any subset of the reviewable fields; null drops an earlier correction."""

    persons = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    has_hard_hat = serializers.BooleanField(required=False, allow_null=True)
    has_safety_vest = serializers.BooleanField(required=False, allow_null=True)
    has_inspection_equipment = serializers.BooleanField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_null=True, max_length=2000)
    keywords = serializers.ListField(child=serializers.CharField(max_length=60), required=False, allow_null=True, max_length=50)
    site_id = serializers.ChoiceField(choices=list(SITE_IDS), required=False, allow_null=True)


def _record_or_404(store, image_id: str) -> dict:
    record = selectors.image_get(image_id=image_id, store=store)
    if record is None:
        raise NotFound({"error": f"No image {image_id!r}."})
    return record


class ImageListApi(APIView):
    @extend_schema(parameters=[ImageFilterSerializer], responses={200: dict}, operation_id="api_images_list")
    def get(self, request):
        filters = _validated(ImageFilterSerializer, request.query_params)
        page, page_size = filters.pop("page"), filters.pop("page_size")
        total, rows = selectors.image_list(filters=filters, limit=page_size, offset=(page - 1) * page_size, store=store_default())

        def url(n):
            query = request.query_params.copy()
            query["page"] = n
            return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")

        last = max(1, -(-total // page_size))
        return Response(
            {
                "count": total,
                "next": url(page + 1) if page < last else None,
                "previous": url(page - 1) if page > 1 else None,
                "results": rows,
            }
        )


class ImageDetailApi(APIView):
    @extend_schema(responses={200: dict, 404: dict})
    def get(self, request, image_id: str):
        record = _record_or_404(store_default(), image_id)
        body = selectors.image_public(record)
        body["analysis"] = record.get("analysis", {})
        body["embedding_model"] = record.get("embedding_model", "")
        body["embedding_dimensions"] = len(record.get("embedding") or [])
        return Response(body)

    @extend_schema(request=ReviewSerializer, responses={200: dict, 400: dict, 404: dict})
    def patch(self, request, image_id: str):
        if not isinstance(request.data, dict) or not request.data:
            raise ValidationError({"error": f"Send a JSON object with any of: {', '.join(REVIEWABLE)}."})
        unknown = sorted(set(request.data) - set(REVIEWABLE))
        if unknown:
            raise ValidationError({"error": f"Cannot review {', '.join(unknown)}; allowed: {', '.join(REVIEWABLE)}."})
        changes = _validated(ReviewSerializer, request.data)
        store = store_default()
        try:
            record = services.image_review(store=store, image_id=image_id, changes=changes, reviewer=request.user.get_username())
        except ReviewError as exc:
            raise ValidationError({"error": str(exc)}) from exc
        if record is None:
            raise NotFound({"error": f"No image {image_id!r}."})
        return Response(selectors.image_public(record))


class ImageFileApi(APIView):
    @extend_schema(responses={(200, "image/*"): bytes, 404: dict})
    def get(self, request, image_id: str):
        record = _record_or_404(store_default(), image_id)
        try:
            data, content_type = selectors.image_file(record=record)
        except OSError as exc:
            raise NotFound({"error": f"The file of image {image_id} is no longer readable."}) from exc
        return HttpResponse(data, content_type=content_type)


class ImageThumbnailApi(APIView):
    @extend_schema(responses={(200, "image/jpeg"): bytes, 404: dict})
    def get(self, request, image_id: str):
        record = _record_or_404(store_default(), image_id)
        try:
            data = selectors.image_thumbnail(record=record)
        except OSError as exc:
            raise NotFound({"error": f"The file of image {image_id} is no longer readable."}) from exc
        return HttpResponse(data, content_type="image/jpeg")


class ImageSimilarApi(APIView):
    @extend_schema(parameters=[SimilarQuerySerializer], responses={200: dict, 404: dict})
    def get(self, request, image_id: str):
        query = _validated(SimilarQuerySerializer, request.query_params)
        results = selectors.image_similar(image_id=image_id, limit=query["limit"], store=store_default())
        if results is None:
            raise NotFound({"error": f"No image {image_id!r}."})
        return Response({"image_id": image_id, "results": results})


class ImageSummaryApi(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(selectors.images_summary(store=store_default()))


class ImageWordCloudApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("site_id", str)], responses={(200, "image/png"): bytes})
    def get(self, request):
        query = _validated(WordCloudQuerySerializer, request.query_params)
        png = selectors.images_wordcloud_png(site_id=query.get("site_id"), store=store_default())
        if png is None:
            where = f"site {query['site_id']}" if query.get("site_id") else "any site"
            raise NotFound({"error": f"No scanned images for {where} yet."})
        return HttpResponse(png, content_type="image/png")
