"""The dashboard's one websocket: every live event the pipelines publish.

The pipelines publish coalesced events (about one a second) to the channel-layer
groups listed in ``tier0site.live``; this consumer joins those groups for each
signed-in browser and relays each listed event type as JSON, unchanged, so the
page and the pipelines share one contract. Its handlers are generated from the
same list (an event type "a.b" is dispatched to the method ``a_b``).
Anonymous sockets are refused before the handshake completes (HTTP 403).
"""

import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dashboard import ws_auth
from tier0site import live

logger = logging.getLogger(__name__)

# Close code sent to a socket that is not signed in (4000-4999: application codes).
CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    joined: tuple[str, ...] = ()
    auth_watch = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.joined = live.GROUPS
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.auth_watch = ws_auth.watch_start(self)  # closes the socket when the sign-in ends
        await self.send_json({"type": "hello", "user": user.get_username(), "staff": user.is_staff, "groups": list(self.joined)})

    async def disconnect(self, code):
        await ws_auth.watch_stop(self.auth_watch)
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The page only pings to keep proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def _relay(self, event):
        await self.send_json(event)


for _event in live.EVENTS:
    setattr(LiveConsumer, _event.handler, LiveConsumer._relay)
