"""How a routes module declares its routes: one ApiRoute per handler, with what the OpenAPI document says.

The routes modules list ApiRoute values in a ROUTES tuple; api/app.py's RouteTable is the one place that
registers them on the Bottle app. This module sits below both, so neither imports the other's package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from api.roles import check_declaration

QueryDoc = tuple[tuple[str, str, str], ...]  # (name, OpenAPI type, meaning) per query parameter


@dataclass(frozen=True)
class ApiRoute:
    """One route: method, path, its handler (a named module-level function), who may call it, and its docs.

    The handler declares what it needs by parameter name (`request`, `service`, the URL's wildcards...);
    api.plugins.ApiPlugin passes them. roles: exactly the roles whose tokens may call it, one of the named
    sets in api/roles.py (no default: every route says it). query_token=True: the token may be sent as
    ?token= (the WebSocket path only). session_roles: who may hold a WebSocket session (/ws only).
    """

    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    tag: str
    roles: frozenset[str]
    body: type[BaseModel] | None = None
    query: QueryDoc = ()
    responses: Mapping[int, str] = field(default_factory=dict)
    response_schema: dict[str, Any] | None = None
    description: str = ""
    query_token: bool = False
    session_roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        try:
            check_declaration(self.roles)
        except ValueError as exc:
            raise ValueError(f"{self.method} {self.path}: {exc}") from None


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI document says about one route (kept on the route; not a dict, which Bottle flattens)."""

    summary: str
    tag: str
    body: type[BaseModel] | None
    query: QueryDoc
    responses: dict[int, str]
    response_schema: dict[str, Any] | None
    description: str
    session_roles: frozenset[str]

    @classmethod
    def of(cls, route: ApiRoute) -> RouteDoc:
        return cls(route.summary, route.tag, route.body, route.query, dict(route.responses), route.response_schema,
                   route.description, route.session_roles)
