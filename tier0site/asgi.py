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

from tier0site.routing import websocket_urlpatterns  # noqa: E402

# Everything imported so far lives as long as the process: keep it out of the
# cyclic garbage collector's scans, which otherwise pause requests (p99 tails).
gc.freeze()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
