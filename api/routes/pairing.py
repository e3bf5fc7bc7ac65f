"""Pairing the browser extension, the paired extensions, and what an extension's own token may ask.

The contract is docs/extension-protocol.md; the threat model is in docs/decisions.md.
"""

from __future__ import annotations

from typing import Any

import bottle

from api.errors import ApiError, not_found
from api.plugins import Reply, Request
from api.roles import ADMINS, EXTENSION_ONLY, PUBLIC, USERS_AND_EXTENSION
from api.routing import ApiRoute
from api.schemas import ExtensionStatus, PairComplete, PairStart
from core import events
from core.version import VERSION
from crm.extensions import Extension, is_extension_origin
from crm.pairing import (
    CODE_LENGTH,
    OriginMismatch,
    PairingEnded,
    PairingExpired,
    TooManyPairings,
    WrongCode,
    retry_after_seconds,
)
from crm.service import Service

EXTENSION_SCHEMA = {"type": "object", "required": ["id", "name", "browser", "origin", "paired_at"],
                    "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                   "browser": {"enum": ["chromium", "firefox"]}, "origin": {"type": "string"},
                                   "paired_at": {"type": "string"}}}


def _extension_origin(request: Request) -> str:
    """The caller's Origin when it is a browser extension's; web pages and local tools cannot pair."""
    origin = request.environ.get("HTTP_ORIGIN")
    if not is_extension_origin(origin):
        raise ApiError(403, "forbidden_origin", "only a browser extension can pair with the agent")
    return origin


def _calling_extension(service: Service, request: Request) -> Extension:
    principal = request.principal
    extension = service.extensions.get(principal.extension_id) if principal.is_extension else None
    if extension is None:
        raise ApiError(403, "forbidden", "this endpoint is for a paired browser extension's token")
    return extension


def pair_start(request: Request, service: Service) -> Reply:
    origin = _extension_origin(request)
    body: PairStart = request.body(PairStart)
    pairings = service.pairings
    try:
        pairing = pairings.start(body.name, body.browser, body.version, origin)
    except TooManyPairings as exc:
        raise ApiError(429, "too_many_pairings", "too many pairings at once; wait and start again",
                       headers={"Retry-After": str(retry_after_seconds(exc.retry_after_s))}) from None
    return Reply({"pairing_id": pairing.pairing_id, "expires_in_s": round(pairings.limits.lifetime_s),
                  "code_length": CODE_LENGTH}, 201)


def pair_complete(request: Request, service: Service) -> Reply:
    origin = _extension_origin(request)
    body: PairComplete = request.body(PairComplete)
    try:
        token, extension = service.pairings.complete(body.pairing_id, body.code, origin)
    except WrongCode as exc:
        raise ApiError(403, "wrong_code", "wrong code", details={"tries_left": exc.tries_left}) from None
    except PairingEnded:
        raise ApiError(410, "pairing_ended", "too many wrong codes: start the pairing again") from None
    except PairingExpired:
        raise ApiError(410, "pairing_expired", "this pairing expired or is unknown: start it again") from None
    except OriginMismatch:
        raise ApiError(403, "origin_mismatch", "this pairing was started from another origin") from None
    return Reply({"token": token, "extension": extension.public()}, 201)


def pending(service: Service) -> dict[str, Any]:
    return {"items": [p.public() for p in service.pairings.pending()]}


def deny(service: Service, pairing_id: str) -> bottle.HTTPResponse:
    if not service.pairings.deny(pairing_id):
        raise not_found("pending pairing")
    return bottle.HTTPResponse(status=204)


def extensions(service: Service) -> dict[str, Any]:
    return {"items": service.extensions.listing()}


def revoke(service: Service, extension_id: int) -> dict[str, Any]:
    extension = service.extensions.get(extension_id)
    if extension is None:
        raise not_found("extension")
    service.extensions.revoke(extension_id)  # revoking a revoked extension changes nothing
    return {"id": extension_id, "state": "revoked"}


def extension_me(request: Request, service: Service) -> dict[str, Any]:
    extension = _calling_extension(service, request)
    return {"extension": {k: v for k, v in extension.public().items() if k != "origin"},
            "agent": {"version": VERSION, "capture_paused": service.capture_paused}}


def status(request: Request, service: Service) -> dict[str, Any]:
    extension = _calling_extension(service, request)
    body: ExtensionStatus = request.body(ExtensionStatus)
    service.extensions.report_status(extension, body.model_dump())
    return {"ok": True}


def open_dashboard(service: Service) -> Reply:
    if service.desktop_clients <= 0:
        raise ApiError(409, "no_desktop", "no desktop tray is connected to this agent (headless service)")
    service.publish(events.UI_OPEN_REQUESTED, {"window": "dashboard"})
    return Reply({"opened": True}, 202)


ROUTES = (
    ApiRoute("POST", "/api/pair/start", pair_start, roles=PUBLIC, tag="extension", body=PairStart,
             summary="Start pairing a browser extension (the code is shown on the desktop)",
             description="Only from a browser extension's Origin (chrome-extension://<32 letters a-p> or "
                         "moz-extension://<uuid>). A 6-digit code valid 120 s is published as "
                         "pairing.requested to admin and local WebSocket clients. At most 3 pending and 10 "
                         "starts a minute; a new start from the same origin replaces its pending one.",
             responses={201: "pairing started", 403: "not a browser extension's Origin",
                        429: "too many pairings (Retry-After)"},
             response_schema={"type": "object", "required": ["pairing_id", "expires_in_s", "code_length"],
                              "properties": {"pairing_id": {"type": "string"}, "expires_in_s": {"type": "integer"},
                                             "code_length": {"type": "integer"}}}),
    ApiRoute("POST", "/api/pair/complete", pair_complete, roles=PUBLIC, tag="extension", body=PairComplete,
             summary="Complete a pairing with the code; answers the extension's token (once)",
             description="From the Origin that started the pairing. The token (256 bits, base64url) is bound "
                         "to that Origin; only its SHA-256 is stored. An earlier extension of the same origin "
                         "is revoked. A wrong code answers 403 wrong_code with details.tries_left; the 5th "
                         "wrong code ends the pairing (410 pairing_ended).",
             responses={201: "paired: {token, extension}", 403: "wrong code, or another Origin",
                        410: "pairing expired, unknown or ended"},
             response_schema={"type": "object", "required": ["token", "extension"],
                              "properties": {"token": {"type": "string"}, "extension": EXTENSION_SCHEMA}}),
    ApiRoute("GET", "/api/pairing/pending", pending, roles=ADMINS, tag="extension",
             summary="Pending pairings with their codes (admin or local token)"),
    ApiRoute("DELETE", "/api/pairing/<pairing_id>", deny, roles=ADMINS, tag="extension",
             summary="Deny a pending pairing (admin)", responses={204: "denied", 404: "no such pending pairing"}),
    ApiRoute("GET", "/api/extensions", extensions, roles=ADMINS, tag="extension",
             summary="Paired browser extensions, revoked ones included, with their last status report (admin)"),
    ApiRoute("DELETE", "/api/extensions/<extension_id:int>", revoke, roles=ADMINS, tag="extension",
             summary="Revoke a paired extension: its token stops working and its WebSocket closes (admin)",
             responses={200: "revoked", 404: "no such extension"}),
    ApiRoute("GET", "/api/extension/me", extension_me, tag="extension", roles=EXTENSION_ONLY,
             summary="The calling extension and the agent's state (extension token)"),
    ApiRoute("POST", "/api/extension/status", status, tag="extension", roles=EXTENSION_ONLY, body=ExtensionStatus,
             summary="The extension's capture state (extension token)",
             description="On the way into stalled the agent publishes capture.stalled once and /api/health is "
                         "degraded; a later ok publishes capture.resumed."),
    ApiRoute("POST", "/api/extension/open-dashboard", open_dashboard, tag="extension", roles=USERS_AND_EXTENSION,
             summary="Ask the desktop tray to open the dashboard",
             description="202 when a desktop client (tray or windows, holding the local token) follows the "
                         "WebSocket: ui.open_requested is published; 409 no_desktop on a headless service.",
             responses={202: "requested", 409: "no desktop connected"}),
)
