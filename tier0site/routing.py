"""Websocket routes of every app, gathered for the ASGI router."""

from dashboard.routing import websocket_urlpatterns as dashboard_websockets

websocket_urlpatterns = [*dashboard_websockets]
