from django.urls import path

from accounts.api.views import TokenListApi, TokenLoginApi, TokenLogoutApi, TokenRevokeApi, WhoAmIApi

urlpatterns = [
    path("auth/login", TokenLoginApi.as_view(), name="token-login"),
    path("auth/logout", TokenLogoutApi.as_view(), name="token-logout"),
    path("auth/whoami", WhoAmIApi.as_view(), name="token-whoami"),
    path("auth/tokens", TokenListApi.as_view(), name="token-list"),
    path("auth/tokens/<str:token_id>", TokenRevokeApi.as_view(), name="token-revoke"),
]
