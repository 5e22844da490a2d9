from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts, API tokens and access rules"

    def ready(self):
        from accounts import schema  # noqa: F401 - registers the OpenAPI description of the token scheme
