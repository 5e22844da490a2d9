"""Image API routes (all under /api/)."""

from django.urls import path

from imaging.api import views

urlpatterns = [
    path("images", views.ImageListApi.as_view(), name="image-list"),
    path("images/summary", views.ImageSummaryApi.as_view(), name="image-summary"),
    path("images/wordcloud", views.ImageWordCloudApi.as_view(), name="image-wordcloud"),
    path("images/similar/<str:image_id>", views.ImageSimilarApi.as_view(), name="image-similar"),
    path("images/<str:image_id>", views.ImageDetailApi.as_view(), name="image-detail"),
    path("images/<str:image_id>/file", views.ImageFileApi.as_view(), name="image-file"),
    path("images/<str:image_id>/thumbnail", views.ImageThumbnailApi.as_view(), name="image-thumbnail"),
]
