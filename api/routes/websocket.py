"""GET /ws without a valid upgrade: explain with a JSON error (the upgrade itself is in api/websocket.py)."""

from __future__ import annotations

from api.errors import ApiError
from api.plugins import Request
from api.websocket import _since, is_upgrade_request
from crm.service import Service


def register(routes, service: Service) -> None:  # noqa: ANN001
    def ws(request: Request) -> None:
        environ = request.environ
        if is_upgrade_request(environ):
            if _since(environ) is False:
                raise ApiError(422, "validation_error", "since: must be a non-negative integer", field="since")
            if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13" or not environ.get("HTTP_SEC_WEBSOCKET_KEY"):
                raise ApiError(426, "upgrade_required", "WebSocket version 13 with a key is required",
                               headers={"Sec-WebSocket-Version": "13"})
            raise ApiError(503, "too_many_clients", "too many WebSocket clients; try again later",
                           headers={"Retry-After": "5"})
        raise ApiError(426, "upgrade_required", "connect with a WebSocket client: GET /ws?token=<token>[&since=<id>]",
                       headers={"Upgrade": "websocket"})

    routes.add("GET", "/ws", ws, tag="events", query_token=True,
               summary="WebSocket of live events {type, id, ts, data}",
               description="Authenticate with ?token=<access or local token>. Resume with ?since=<last id>. "
                           "Event types: message.captured, analysis.completed, alert.raised, alert.resolved, "
                           "metrics.updated, ai.state, capture.state, events.lost.",
               query=(("token", "string", "Access token or local token"),
                      ("since", "integer", "Last event id received")),
               responses={101: "switching protocols", 401: "bad token", 403: "Host or Origin refused",
                          426: "not a WebSocket upgrade"})
