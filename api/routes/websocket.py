"""GET /ws without a valid upgrade: explain with a JSON error (the upgrade itself is in api/websocket.py)."""

from __future__ import annotations

from api.errors import ApiError
from api.plugins import Request, bearer_token
from api.roles import PUBLIC, WEBSOCKET_SESSIONS
from api.routing import ApiRoute
from api.websocket import _query_token, _since, is_upgrade_request
from crm.access import InvalidToken
from crm.service import Service


def ws(request: Request, service: Service) -> None:
    environ = request.environ
    if _query_token(environ):
        try:
            service.tokens.authenticate(bearer_token(environ, allow_query=True))
        except InvalidToken as exc:
            raise ApiError(401, "unauthorized", str(exc),
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    if is_upgrade_request(environ):
        if _since(environ) is False:
            raise ApiError(422, "validation_error", "since: must be a non-negative integer", field="since")
        if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13" or not environ.get("HTTP_SEC_WEBSOCKET_KEY"):
            raise ApiError(426, "upgrade_required", "WebSocket version 13 with a key is required",
                           headers={"Sec-WebSocket-Version": "13"})
        raise ApiError(503, "too_many_clients", "too many WebSocket clients; try again later",
                       headers={"Retry-After": "5"})
    raise ApiError(426, "upgrade_required", "connect with a WebSocket client: GET /ws?token=<token>[&since=<id>], "
                   "or GET /ws and a first message {\"type\": \"auth\", \"token\": ..., \"since\": ...}",
                   headers={"Upgrade": "websocket"})


# roles=PUBLIC for this plain-HTTP answer (it only explains or refuses an upgrade; an extension without a token
# in its URL must get 503 or 426 here, not 401). Who may hold a session: session_roles, checked by
# api/websocket.py on the ?token= or the first message.
ROUTES = (
    ApiRoute("GET", "/ws", ws, roles=PUBLIC, session_roles=WEBSOCKET_SESSIONS, tag="events", query_token=True,
             summary="WebSocket of live events {type, id, ts, data}",
             description="Authenticate with ?token=<access or local token>, or without ?token= by sending "
                         '{"type": "auth", "token": "...", "since": <last id or null>} as the first message '
                         "within 10 s (answered auth.ok; anything else closes with 4401). A browser "
                         "extension's token is accepted only in that first message, from its bound Origin, "
                         'and receives only message.captured, analysis.completed and capture.state. {"type": '
                         '"ping"} is answered {"type": "pong"}. Resume with ?since=<last id>. Event types: '
                         "message.captured, analysis.completed, alert.raised, alert.resolved, metrics.updated, "
                         "ai.state, capture.state, sync.status, backup.*, restore.*, pairing.requested, "
                         "pairing.completed, pairing.ended (admin and local clients only), extension.revoked, "
                         "capture.stalled, capture.resumed, ui.open_requested, events.lost.",
             query=(("token", "string", "Access token or local token (never an extension's token)"),
                    ("since", "integer", "Last event id received")),
             responses={101: "switching protocols", 401: "bad token", 403: "Host or Origin refused",
                        426: "not a WebSocket upgrade", 503: "too many clients"}),
)
