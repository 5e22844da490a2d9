"""Issue and revoke API tokens in tests the way the project stores them."""

from rest_framework.authtoken.models import Token


def issue_token(user) -> str:
    return Token.objects.create(user=user).key


def revoke_token(user) -> None:
    Token.objects.filter(user=user).delete()
