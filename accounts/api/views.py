"""API tokens: sign in for one, list and revoke your own, sign out.

Only the owner sees or revokes a token; a token's secret is shown once, when it
is issued. Tokens expire after ``REST_KNOX["TOKEN_TTL"]`` (API_TOKEN_TTL_HOURS).
"""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from tier0site.api import validated_input


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenLoginApi(APIView):
    """POST username and password, get a token: ``Authorization: Token <token>``."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "login"

    def get_authenticate_header(self, request):
        return "Token"  # a refused sign-in is a 401, as for a bad token

    @extend_schema(request=LoginInput, responses={200: dict, 401: dict, 429: dict})
    def post(self, request):
        data = validated_input(LoginInput, request.data, prefix="Invalid ")
        # request= lets the lockout backend count failures per username and address.
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise AuthenticationFailed("Wrong username or password.")
        instance, token = services.token_issue(user=user)
        return Response({"token": token, "id": instance.token_key, "expiry": instance.expiry}, status=status.HTTP_200_OK)


class WhoAmIApi(APIView):
    """Who this request is authenticated as: a quick check that a token works."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"username": request.user.get_username(), "staff": request.user.is_staff})


class TokenListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict})
    def get(self, request):
        current = request.auth if hasattr(request.auth, "digest") else None
        return Response({"results": selectors.token_list(user=request.user, current=current)})


class TokenRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: dict})
    def delete(self, request, token_id: str):
        if not services.token_revoke(user=request.user, token_id=token_id):
            raise NotFound({"error": f"You have no token {token_id!r}."})
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenLogoutApi(APIView):
    """Revoke the token this request came with."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None, 400: dict})
    def post(self, request):
        if not hasattr(request.auth, "digest"):
            return Response({"error": "This request carries no API token."}, status=status.HTTP_400_BAD_REQUEST)
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
