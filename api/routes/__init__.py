"""Routes by resource. Each module declares ROUTES: its handlers, named module-level functions, with their docs.

ROUTES here is every route in the order the OpenAPI document (and docs/api.md) lists them; api/app.py's
RouteTable registers them.
"""

from __future__ import annotations

from api import openapi
from api.routes import (
    analysis,
    auth,
    config,
    conversations,
    customers,
    drafts,
    extension_chat,
    health,
    knowledge,
    messages,
    metrics,
    offsite,
    pairing,
    security,
    sync,
    system,
    users,
    websocket,
)
from api.routing import ApiRoute

ROUTES: tuple[ApiRoute, ...] = (
    *health.ROUTES, *auth.ROUTES, *messages.ROUTES, *analysis.ROUTES, *drafts.ROUTES, *customers.ROUTES,
    *conversations.ROUTES, *knowledge.ROUTES,
    *metrics.ROUTES, *system.ROUTES, *config.ROUTES, *users.ROUTES, *security.ROUTES, *sync.ROUTES, *offsite.ROUTES,
    *pairing.ROUTES,
    *websocket.ROUTES,
    *extension_chat.ROUTES,  # the extension's panel (docs/extension-protocol.md)
    *openapi.ROUTES,
)
