"""Routes by resource. Each module has register(routes, service)."""

from __future__ import annotations

from api.routes import (
    analysis,
    auth,
    config,
    conversations,
    customers,
    extension_chat,
    health,
    messages,
    metrics,
    pairing,
    sync,
    system,
    users,
    websocket,
)


def register_all(routes, service) -> None:  # noqa: ANN001 - avoids an import cycle with api.app
    for module in (health, auth, messages, analysis, customers, conversations, metrics, system, config, users,
                   sync, pairing, websocket):
        module.register(routes, service)
    extension_chat.register(routes, service)  # the extension's panel (docs/extension-protocol.md)
    from api import openapi

    openapi.register(routes, service)
