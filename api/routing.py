"""How a routes module declares its routes: one ApiRoute per handler, with what the OpenAPI document says.

The routes modules list ApiRoute values in a ROUTES tuple; api/app.py's RouteTable is the one place that
registers them on the Bottle app. This module sits below both, so neither imports the other's package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

QueryDoc = tuple[tuple[str, str, str], ...]  # (name, OpenAPI type, meaning) per query parameter


@dataclass(frozen=True)
class ApiRoute:
    """One route: method, path, its handler (a named module-level function), who may call it, and its docs.

    The handler declares what it needs by parameter name (`request`, `service`, the URL's wildcards...);
    api.plugins.ApiPlugin passes them. auth: 'none' | 'user' | 'admin' | 'hub'. extension=True: a paired
    browser extension's token may call it (docs/extension-protocol.md). query_token=True: the token may be
    sent as ?token= (the WebSocket path only).
    """

    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    tag: str
    auth: str = "user"
    body: type[BaseModel] | None = None
    query: QueryDoc = ()
    responses: Mapping[int, str] = field(default_factory=dict)
    response_schema: dict[str, Any] | None = None
    description: str = ""
    query_token: bool = False
    extension: bool = False


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

    @classmethod
    def of(cls, route: ApiRoute) -> RouteDoc:
        return cls(route.summary, route.tag, route.body, route.query, dict(route.responses), route.response_schema,
                   route.description)
