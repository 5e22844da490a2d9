"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets are authenticated from the Django session and checked against the
allowed hosts (origin validation); app routes live in ``tier0site.routing``.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tier0site.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from tier0site.access_log import AccessLogMiddleware  # noqa: E402
from tier0site.routing import websocket_urlpatterns  # noqa: E402

# Everything imported so far lives as long as the process: keep it out of the
# cyclic garbage collector's scans, which otherwise pause requests (p99 tails).
gc.freeze()

# Access lines as JSON (outermost per protocol).
_logged = AccessLogMiddleware if settings.ACCESS_LOG else (lambda app: app)
application = ProtocolTypeRouter(
    {
        "http": _logged(django_asgi_app),
        "websocket": _logged(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
