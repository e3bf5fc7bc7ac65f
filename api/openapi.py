"""GET /api/openapi.json: the OpenAPI 3.1 document, generated from the route table and pydantic models."""

from __future__ import annotations

import re
from typing import Any

import bottle

from api.roles import ANONYMOUS, PUBLIC
from api.routing import ApiRoute
from core.version import VERSION
from crm.access import EXTENSION

_PARAM = re.compile(r"<([a-zA-Z_]+)(?::([a-z]+))?>")
ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "field": {"type": "string"}, "details": {"type": "array"}}}},
}
STANDARD_ERRORS = {400: "bad request", 401: "missing or invalid token", 403: "Host, Origin or role (x-roles) refused",
                   411: "Content-Length required", 413: "body too large", 415: "not application/json",
                   422: "invalid input", 429: "rate limited"}


def openapi_path(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", rule)


def build_document(app_routes: list[Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for route in app_routes:
        meta = route.config.get("openapi")
        if meta is None:
            continue
        operation = _operation(route, meta, schemas)
        paths.setdefault(openapi_path(route.rule), {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "CRM Agent local API", "version": VERSION,
                 "description": "The agent's API on localhost. Every error is {error: {code, message}}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                                         "bearerFormat": "JWT"}}},
    }


def _operation(route: Any, meta: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": meta.summary, "tags": [meta.tag],
                                 "operationId": f"{route.method.lower()}_{route.callback.__name__}"}
    if meta.description:
        operation["description"] = meta.description
    parameters = []
    for match in _PARAM.finditer(route.rule):
        schema = ({"type": "integer", "minimum": 1, "maximum": 2**63 - 1} if match.group(2) == "int"
                  else {"type": "string"})
        parameters.append({"name": match.group(1), "in": "path", "required": True, "schema": schema})
    for name, kind, help_text in meta.query:
        parameters.append({"name": name, "in": "query", "required": False, "description": help_text,
                           "schema": {"type": kind}})
    if parameters:
        operation["parameters"] = parameters
    if meta.body is not None:
        model = meta.body
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas[name] = definition
        schemas[model.__name__] = schema
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    responses: dict[str, Any] = {}
    success = {code: text for code, text in meta.responses.items() if code < 400} or {200: "OK"}
    for code, text in success.items():
        entry: dict[str, Any] = {"description": text}
        if code != 101:
            entry["content"] = {"application/json": {"schema": meta.response_schema or {"type": "object"}}}
        responses[str(code)] = entry
    errors = dict(STANDARD_ERRORS)
    errors.update({code: text for code, text in meta.responses.items() if code >= 400})
    roles = route.config["roles"]
    public = ANONYMOUS in roles
    if public:
        errors.pop(401, None)
    if meta.body is None:
        for code in (411, 413, 415):
            errors.pop(code, None)
    for code, text in sorted(errors.items()):
        responses[str(code)] = {"description": text, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
    operation["responses"] = responses
    if not public:
        operation["security"] = [{"bearer": []}]
    operation["x-roles"] = sorted(roles)  # exactly who may call it (api/roles.py); anonymous: no token read
    if EXTENSION in roles:
        operation["x-extension-token"] = True  # a paired browser extension's token may call it
    if meta.session_roles:
        operation["x-session-roles"] = sorted(meta.session_roles)  # who may hold a WebSocket session
    return operation


def openapi_document(app: bottle.Bottle) -> dict[str, Any]:
    return build_document(app.routes)


ROUTES = (
    ApiRoute("GET", "/api/openapi.json", openapi_document, roles=PUBLIC, tag="system",
             summary="This OpenAPI 3.1 document"),
)
