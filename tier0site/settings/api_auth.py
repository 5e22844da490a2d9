"""The API's authentication, permissions, throttles, login lockout, tokens and OpenAPI schema.

Part of ``base`` (which imports it where this block used to stand); the environment (and the ``.env`` file)
is read by ``base`` before this runs.
"""

from datetime import timedelta

import environ

env = environ.Env()

# --- Auth, DRF, OpenAPI -----------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
REST_FRAMEWORK = {
    # Session first (the dashboard), so refusals are 403 for both schemes.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tier0site.permissions.StaffWritesOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "tier0site.api.BoundedPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "tier0site.api.exception_handler",
    # Per-client rates (Redis-backed cache); POST /api/query may call Cohere, so it has
    # a tighter scope of its own; sign-in has one too (lockout is axes', below).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "tier0site.throttles.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", "120/min"),
        "user": env.str("API_THROTTLE_USER", "6000/min"),
        "query": env.str("API_THROTTLE_QUERY", "30/min"),
        "login": env.str("API_THROTTLE_LOGIN", "30/min"),
    },
}
# Users the user rate does not apply to (the benchmark's own user): a list of
# usernames, empty by default. Scoped rates (query, login) still apply.
API_THROTTLE_EXEMPT_USERS = env.list("API_THROTTLE_EXEMPT_USERS", default=[])

# Login lockout (django-axes): 5 consecutive failures for one username from one
# address lock that pair out for 15 minutes, on the dashboard login, the admin
# login and POST /api/auth/login (all go through django.contrib.auth.authenticate).
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = ["accounts.backends.WebLoginLockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # "consecutive": a successful login clears the count
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the 15 minutes are not extended by more tries
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_COOLOFF_MESSAGE = "Too many failed logins for this account from this address: locked out for a while. Try again later."
AXES_IPWARE_PROXY_COUNT = env.int("LOGIN_PROXY_COUNT", 0) or None  # 1 behind the compose TLS proxy
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]

# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#enabling-password-validation
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# API tokens: django-rest-knox (hashed with SHA-512, expiring). accounts/api.
# https://jazzband.github.io/django-rest-knox/settings/
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", 24 * 7)),
    "TOKEN_LIMIT_PER_USER": env.int("API_TOKEN_LIMIT_PER_USER", 20),
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tier-0 SRE API",
    "DESCRIPTION": "Telemetry, sessions, queries, images and failover for industrial IoT fleets.",
    "VERSION": "1.0.0",
    # Swagger UI from the project's own static files (no CDN: works offline), and the
    # schema and docs for signed-in users only.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # `check --deploy` is about deployment safety; schema quality is checked on its own
    # (`manage.py spectacular --validate --fail-on-warn`), not mixed into it.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # One name for the alarm severities (alarms' severity, receivers' min_severity).
    "ENUM_NAME_OVERRIDES": {"SeverityEnum": "alarms.models.Severity"},
}

# /metrics: Prometheus scrapes it with "Authorization: Bearer $METRICS_TOKEN"; signed-in
# staff may look at it in a browser. Without a token set, only staff. tier0site/metrics.py.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")

__all__ = [name for name in dir() if name.isupper()]  # settings only, for base's star import
