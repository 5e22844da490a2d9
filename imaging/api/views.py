"""Thin image API views: validate the query, call a selector or service, answer."""

from functools import partial

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from imaging import rendering, selectors, services
from imaging.compliance import REVIEWABLE
from imaging.services import CATEGORY_TYPES, SITE_IDS, ReviewError
from imaging.stores import store_default
from tier0site.api import PAGINATION_PARAMS, BoundedPagination, PageSerializer, validated_input

_validated = partial(validated_input, prefix="Invalid parameter ")


class ImageFilterSerializer(serializers.Serializer):
    device_type = serializers.ChoiceField(choices=sorted(CATEGORY_TYPES.values()), required=False)
    site_id = serializers.ChoiceField(choices=list(SITE_IDS), required=False)
    # DRF's BooleanField: true/false/1/0/yes/no/on/off; anything else (a typo) is a 400.
    has_hard_hat = serializers.BooleanField(required=False)
    has_safety_vest = serializers.BooleanField(required=False)
    has_inspection_equipment = serializers.BooleanField(required=False)
    reviewed = serializers.BooleanField(required=False)
    uncertain = serializers.BooleanField(required=False, help_text="true: people in view and a flag the analyser was not sure of")
    min_compliance = serializers.FloatField(required=False, min_value=0, max_value=100)


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
    @extend_schema(parameters=[ImageFilterSerializer, PageSerializer], responses={200: dict}, operation_id="api_images_list")
    def get(self, request):
        # A plain dict: with a QueryDict, DRF reads an absent boolean as false.
        query = {key: value for key, value in request.query_params.items() if key not in PAGINATION_PARAMS}
        filters = _validated(ImageFilterSerializer, query)
        store = store_default()

        def fetch(page: int, page_size: int) -> tuple[int, list]:
            return selectors.image_list(filters=filters, limit=page_size, offset=(page - 1) * page_size, store=store)

        return Response(BoundedPagination().paginate_fetched(request, fetch))


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
            data, content_type = rendering.image_file(record=record)
        except OSError as exc:
            raise NotFound({"error": f"The file of image {image_id} is no longer readable."}) from exc
        return HttpResponse(data, content_type=content_type)


class ImageThumbnailApi(APIView):
    @extend_schema(responses={(200, "image/jpeg"): bytes, 404: dict})
    def get(self, request, image_id: str):
        record = _record_or_404(store_default(), image_id)
        try:
            data = rendering.image_thumbnail(record=record)
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
        png = rendering.images_wordcloud_png(site_id=query.get("site_id"), store=store_default())
        if png is None:
            where = f"site {query['site_id']}" if query.get("site_id") else "any site"
            raise NotFound({"error": f"No scanned images for {where} yet."})
        return HttpResponse(png, content_type="image/png")
