"""The OpenAPI document matches the routes, and the generated docs are current."""

from __future__ import annotations

import re

from api.openapi import openapi_path
from api.reference import current_document, render_api_markdown
from tests.helpers import ROOT


def _served_routes(service) -> set[tuple[str, str]]:
    """The routes of the app the service serves (create_app: the one the server runs)."""
    from api.app import create_app

    wsgi, _ = create_app(service)
    return {(r.method.lower(), openapi_path(r.rule)) for r in wsgi.app.routes}


def test_document_lists_exactly_the_routes(tmp_path):
    from core.config import load_config
    from core.paths import DataDir
    from runtime.build import build_service

    service = build_service(load_config(None), DataDir(tmp_path))
    try:
        routes = _served_routes(service)
    finally:
        service.close()
    document = current_document()
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert documented == routes
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)), "operationId must be unique (OpenAPI 3.1, client generators)"
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], (method, path)
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op["parameters"]), (method, path)


def test_served_document_is_openapi_31(service):
    r = service.get("/api/openapi.json", token=None)
    assert r.status_code == 200
    document = r.json()
    assert document["openapi"].startswith("3.1")
    capture = document["paths"]["/api/messages/capture"]["post"]
    schema_ref = capture["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert set(schema["required"]) >= {"message_id", "chat_id", "content", "direction", "timestamp"}
    assert "phone" not in schema["required"]  # optional when chat_id is a JID (docs/extension-protocol.md)
    assert "401" in capture["responses"] and "422" in capture["responses"]
    assert "401" not in document["paths"]["/api/health"]["get"]["responses"]


def test_api_docs_are_current():
    assert (ROOT / "docs" / "api.md").read_text() == render_api_markdown(current_document()), \
        "docs/api.md is stale: run python -m api.reference > docs/api.md"
