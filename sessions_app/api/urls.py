from django.urls import path

from sessions_app.api import views

urlpatterns = [
    path("users", views.UserListApi.as_view(), name="user-list"),
    path("users/summary", views.UserSummaryApi.as_view(), name="user-summary"),
    path("sites/<str:site_id>/users", views.SiteUsersApi.as_view(), name="site-users"),
]
