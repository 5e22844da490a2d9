"""/metrics for Prometheus only: a scrape token, or a signed-in staff user.

The endpoint is 100 KB of the process's internals (URL names, database and cache
timings), so it is not public. Prometheus sends ``Authorization: Bearer
$METRICS_TOKEN`` (``authorization: {credentials_file: ...}`` in its scrape
config); a staff user may open it in a browser while signed in.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CollectorRegistry, generate_latest

# Figures read from the database at each scrape (active alarms): one copy per scrape,
# whichever web worker answers, so they stay out of the per-process (multiprocess) registry.
SCRAPE_TIME = CollectorRegistry(auto_describe=True)


def _scrape_token_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    return hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode())


def metrics(request):
    user = getattr(request, "user", None)
    if _scrape_token_ok(request) or (user is not None and user.is_authenticated and user.is_staff):
        response = ExportToDjangoView(request)
        response.content = response.content + generate_latest(SCRAPE_TIME)
        return response
    response = HttpResponse("Metrics need a scrape token or a staff login.\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
