"""The Bottle app factory: one route table, one wrapper (ApiPlugin), one WSGI security layer."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import bottle

from api.errors import ApiError, error_body
from api.plugins import ApiPlugin
from api.routes import ROUTES
from api.routing import ApiRoute, RouteDoc
from api.security import OriginPolicy, SecurityMiddleware
from crm.access import Principal, hub_agent_principal
from crm.service import Service
from storage.hub import check_token


class RouteTable:
    """Registers the routes the routes modules declare, with their OpenAPI description, so the document and
    the routes cannot drift."""

    def __init__(self, app: bottle.Bottle) -> None:
        self.app = app

    def add(self, route: ApiRoute) -> None:
        self.app.route(route.path, route.method, route.handler, roles=route.roles, openapi=RouteDoc.of(route),
                       query_token=route.query_token)

    def add_all(self, routes: Iterable[ApiRoute]) -> None:
        for route in routes:
            self.add(route)


def create_app(service: Service) -> tuple[Callable, OriginPolicy]:
    """The WSGI application and its origin policy (the server sets policy.port once bound)."""
    app = bottle.Bottle()
    # ApiPlugin does JSON and errors; Bottle's own JSON and template plugins would only add a wrapper call.
    app.uninstall(bottle.JSONPlugin)
    app.uninstall(bottle.TemplatePlugin)
    app.install(ApiPlugin(service.tokens, service.token_limiter, hub_auth=lambda token: hub_principal(service, token),
                          extensions=service.extensions, dependencies={"service": service, "app": app}))
    RouteTable(app).add_all(ROUTES)
    _apply_plugins_now(app)
    _install_json_error_pages(app)
    config = service.config
    policy = OriginPolicy(
        allowed_origins=[*config["security.extension_origins"], *config["security.web_origins"]],
        extra_hosts=config["server.allowed_hosts"],
        paired_origin=service.extensions.is_paired_origin,
        revoked_token=service.extensions.is_revoked_token,
    )
    wsgi = SecurityMiddleware(app, policy, max_body_bytes=config["server.max_body_bytes"],
                              client_limiter=service.client_limiter, request_log=config["server.request_log"])
    return wsgi, policy


def hub_principal(service: Service, token: str) -> Principal | None:
    """The hub agent holding this token (only a hub accepts agent tokens); a revoked or replaced token is
    refused with its reason, so the agent's sync status tells its user what to do."""
    if not service.is_hub:
        return None
    check = check_token(service.db, token, service.clock.now())
    if check.state == "revoked":
        raise ApiError(401, "agent_revoked", "this agent was revoked on the hub (agent.py hub agent-revoke); "
                       "ask the hub's admin", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if check.state == "replaced":
        raise ApiError(401, "agent_token_replaced", "this hub token was replaced by a newer one (agent.py hub "
                       "agent-rotate); store the new token with agent.py sync set-token --token-stdin",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return hub_agent_principal(check.agent_id) if check.state == "ok" else None


def _apply_plugins_now(app: bottle.Bottle) -> None:
    """Bottle wraps a route in its plugins at the route's first request; doing it now makes a handler that
    asks for a dependency nobody provides fail at start-up instead (ApiPlugin checks that when it wraps)."""
    for route in app.routes:
        route.prepare()


def _install_json_error_pages(app: bottle.Bottle) -> None:
    """Bottle's own errors (unknown path, wrong method) as JSON too."""

    def handler(error: bottle.HTTPError) -> bytes:
        status = error.status_code
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
        message = {404: "no such endpoint", 405: "method not allowed for this endpoint"}.get(status, error.status_line)
        bottle.response.content_type = "application/json"
        return error_body(code, message)

    for status in (400, 404, 405, 500):
        app.error_handler[status] = handler

