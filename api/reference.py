"""Render docs/api.md from the OpenAPI document: `python -m api.reference > docs/api.md`."""

from __future__ import annotations

import json
from typing import Any

import bottle

from api.app import RouteTable
from api.openapi import build_document
from api.routes import ROUTES


def current_document() -> dict[str, Any]:
    """The document the service serves: the declared routes, registered on a bare app (no service needed)."""
    app = bottle.Bottle()
    RouteTable(app).add_all(ROUTES)
    return build_document(app.routes)


def render_api_markdown(document: dict[str, Any]) -> str:
    lines = [
        "# API reference",
        "",
        "Generated from the OpenAPI 3.1 document (`GET /api/openapi.json`) by `python -m api.reference > docs/api.md`;",
        "a test keeps it current.",
        "",
        "All endpoints are under `http://127.0.0.1:<port>`. Send `Authorization: Bearer <token>`: an access token",
        "from `POST /api/auth/login`, or the local token (the `local_token` file in the data directory) used by",
        "the tray and windows. Every error is `{\"error\": {\"code\", \"message\", \"field\"?}}`. Bodies are",
        "`application/json` with a `Content-Length`. Requests from browsers must come from an allowed Origin",
        "(`security.extension_origins`, `security.web_origins`, or a paired browser extension) and carry a local",
        "`Host` header. Each operation declares the roles whose tokens may call it (`x-roles` in the document, the",
        "roles column here): `admin` and `agent` (a user's access token), `local` (the local token), `extension` (a",
        "paired browser extension's token, only with the Origin it was paired from; docs/extension-protocol.md),",
        "`hub-agent` (a team hub's agent token, on a hub), or `anonymous` (no token read). A token the route's",
        "roles do not know answers 401; a known token of another role answers 403 `forbidden`.",
        "",
        "| method | path | roles | summary |",
        "|---|---|---|---|",
    ]
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            lines.append(f"| {method.upper()} | `{path}` | {', '.join(op['x-roles'])} | {op['summary']} |")
    lines.append("")
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            lines += [f"## {method.upper()} {path}", "", op["summary"] + ".", ""]
            if op.get("description"):
                lines += [op["description"], ""]
            lines += ["Roles: " + ", ".join(f"`{role}`" for role in op["x-roles"]) + "."
                      + ("" if "x-session-roles" not in op else " WebSocket sessions: "
                         + ", ".join(f"`{role}`" for role in op["x-session-roles"]) + "."), ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | meaning |", "|---|---|---|---|"]
                for p in params:
                    lines.append(f"| `{p['name']}` | {p['in']} | {p['schema']['type']} | {p.get('description', '')} |")
                lines.append("")
            body = op.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                schema = document["components"]["schemas"][ref]
                lines += [f"Body (`{ref}`):", "", "```json", json.dumps(schema.get("properties", {}), indent=1,
                                                                            ensure_ascii=False), "```", ""]
                required = schema.get("required", [])
                if required:
                    lines += ["Required: " + ", ".join(f"`{r}`" for r in required) + ".", ""]
            codes = ", ".join(f"{code} {r['description']}" for code, r in op["responses"].items())
            lines += [f"Responses: {codes}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_api_markdown(current_document()), end="")
