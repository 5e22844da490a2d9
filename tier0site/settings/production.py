"""Production settings: refuse to start with unsafe values, and harden HTTP.

A production process must be given its secret key, its hosts and broker
credentials of its own, and must not run with DEBUG; all are checked at import
so a misconfigured deployment fails before serving. Behind the compose TLS
proxy (deploy/proxy) requests arrive as plain HTTP with X-Forwarded-Proto, which
SECURE_PROXY_SSL_HEADER trusts; `manage.py check --deploy` passes with these
settings (tests/security/test_safe_defaults.py).
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import INSECURE_DEFAULT_SECRET_KEY, MIDDLEWARE, RABBITMQ_URL, env

DEBUG = env.bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "")

if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")
if not SECRET_KEY or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to a unique value of at least 50 characters in production.")
if urlsplit(RABBITMQ_URL).username in (None, "", "guest"):
    raise ImproperlyConfigured("RABBITMQ_URL must name a RabbitMQ user of its own in production, not guest.")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[f"https://{h}" for h in ALLOWED_HOSTS if h != "*"])

# --- HTTPS --------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
# Probes inside the compose network speak plain HTTP to the web container.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (django-csp) ------------------------------------------
# Everything the pages load is the project's own (Chart.js and Swagger UI are vendored);
# Swagger UI keeps one inline <style> and data: icons. https://django-csp.readthedocs.io/
MIDDLEWARE = ["csp.middleware.CSPMiddleware", *MIDDLEWARE]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
