"""Issue and revoke API tokens in tests the way the project stores them."""

from knox.models import AuthToken

from accounts.services import token_issue


def issue_token(user) -> str:
    return token_issue(user=user)[1]


def revoke_token(user) -> None:
    AuthToken.objects.filter(user=user).delete()
