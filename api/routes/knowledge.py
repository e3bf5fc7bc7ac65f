"""The knowledge base: the seller's facts and quick replies (crm/knowledge.py), its CSV import/export, and the
quick replies the extension lists when the seller types "/" in WhatsApp's message box."""

from __future__ import annotations

from typing import Any

import bottle

from api.errors import ApiError
from api.plugins import Reply, Request
from api.roles import USERS, USERS_AND_EXTENSION
from api.routing import ApiRoute
from api.schemas import KnowledgeCreate, KnowledgePatch
from crm.knowledge import KnowledgeBase, KnowledgeError
from crm.service import Service

ENTRY_SCHEMA = {"type": "object", "required": ["id", "uid", "title", "content", "language", "tags", "shortcut",
                                               "created_at", "updated_at"]}
PAGE_SCHEMA = {"type": "object", "required": ["items", "total", "limit", "offset"],
               "properties": {"items": {"type": "array", "items": ENTRY_SCHEMA}}}
IMPORT_SCHEMA = {"type": "object", "required": ["created", "updated", "errors"], "properties": {
    "errors": {"type": "array", "items": {"type": "object", "required": ["line", "error"]}}}}
QUICK_REPLIES_SCHEMA = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
    "type": "object", "required": ["id", "shortcut", "title", "text"]}}}}


def knowledge_base(service: Service) -> KnowledgeBase:
    return KnowledgeBase(service.db, service.clock, service.publish)


def refused(exc: KnowledgeError) -> ApiError:
    return ApiError(exc.status, exc.code, str(exc), field=exc.field)


def list_entries(request: Request, service: Service) -> dict[str, Any]:
    limit = request.query_int("limit", 50, 1, 200)
    offset = request.query_int("offset", 0, 0)
    query = request.query("q")
    if query is not None and len(query) > 200:
        raise ApiError(422, "validation_error", "q: at most 200 characters", field="q")
    items, total = knowledge_base(service).search(query, limit, offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def create_entry(request: Request, service: Service) -> Reply:
    body: KnowledgeCreate = request.body(KnowledgeCreate)
    try:
        return Reply(knowledge_base(service).create(body.model_dump()), 201)
    except KnowledgeError as exc:
        raise refused(exc) from None


def get_entry(service: Service, id: int) -> dict[str, Any]:  # noqa: A002 - the path's wildcard
    try:
        return knowledge_base(service).get(id)
    except KnowledgeError as exc:
        raise refused(exc) from None


def patch_entry(request: Request, service: Service, id: int) -> dict[str, Any]:  # noqa: A002
    body: KnowledgePatch = request.body(KnowledgePatch)
    try:
        return knowledge_base(service).update(id, body.model_dump(exclude_unset=True))
    except KnowledgeError as exc:
        raise refused(exc) from None


def delete_entry(service: Service, id: int) -> bottle.HTTPResponse:  # noqa: A002
    try:
        knowledge_base(service).delete(id)
    except KnowledgeError as exc:
        raise refused(exc) from None
    return bottle.HTTPResponse(status=204)


def export_entries(service: Service) -> bottle.HTTPResponse:
    response = bottle.HTTPResponse(body=knowledge_base(service).export_csv().encode("utf-8"), status=200)
    response.set_header("Content-Type", "text/csv; charset=utf-8")
    response.set_header("Content-Disposition", 'attachment; filename="knowledge.csv"')
    return response


def import_entries(request: Request, service: Service) -> dict[str, Any]:
    try:
        result = knowledge_base(service).import_csv(request.raw_body())
    except KnowledgeError as exc:
        raise refused(exc) from None
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
            "errors": result.errors}


def quick_replies(request: Request, service: Service) -> dict[str, Any]:
    prefix = request.query("prefix", "") or ""
    chat_id = request.query("chat_id")
    if len(prefix) > 33:
        raise ApiError(422, "validation_error", "prefix: at most 33 characters", field="prefix")
    if chat_id is not None and len(chat_id) > 256:
        raise ApiError(422, "validation_error", "chat_id: at most 256 characters", field="chat_id")
    limit = request.query_int("limit", 20, 1, 50)
    items = knowledge_base(service).quick_replies(prefix, chat_id, service.config["capture.default_region"], limit)
    return {"items": items}


_ENTRY_ERRORS = {404: "no such entry", 409: "the shortcut is another entry's (code shortcut_taken)",
                 422: "invalid field (error.field names it)"}

ROUTES = (
    ApiRoute("GET", "/api/knowledge", list_entries, tag="knowledge", roles=USERS_AND_EXTENSION,
             summary="List and search knowledge entries (title, content, tags, shortcut)",
             query=(("q", "string", "Text searched in title, content, tags and shortcut"),
                    ("limit", "integer", "1-200 (50)"), ("offset", "integer", "rows to skip")),
             responses={422: "invalid query"}, response_schema=PAGE_SCHEMA),
    ApiRoute("POST", "/api/knowledge", create_entry, tag="knowledge", roles=USERS, body=KnowledgeCreate,
             summary="Add a knowledge entry (a fact; with a shortcut, also a quick reply)",
             responses={201: "created", 409: _ENTRY_ERRORS[409], 422: _ENTRY_ERRORS[422]},
             response_schema=ENTRY_SCHEMA),
    ApiRoute("GET", "/api/knowledge/export", export_entries, tag="knowledge", roles=USERS,
             summary="Every entry as CSV (text/csv, UTF-8 with BOM; header title,content,language,tags,shortcut; "
                     "tags joined by ';')"),
    ApiRoute("POST", "/api/knowledge/import", import_entries, tag="knowledge", roles=USERS,
             summary="Import a CSV (body text/csv, the export's header): upsert by shortcut, else by exact title",
             description="UTF-8 with or without BOM, comma- or semicolon-separated, quoted fields may hold commas, "
                         "quotes and newlines. Good rows are kept; each bad row is reported as {line, error}. At "
                         "most 5,000 rows and 4 MiB. One knowledge.changed event (action imported).",
             responses={200: "imported (errors lists the rows left out)", 413: "more than 5,000 rows or 4 MiB",
                        422: "not UTF-8, or no title/content header"},
             response_schema=IMPORT_SCHEMA),
    ApiRoute("GET", "/api/knowledge/<id:int>", get_entry, tag="knowledge", roles=USERS_AND_EXTENSION,
             summary="One knowledge entry", responses={404: _ENTRY_ERRORS[404]}, response_schema=ENTRY_SCHEMA),
    ApiRoute("PATCH", "/api/knowledge/<id:int>", patch_entry, tag="knowledge", roles=USERS, body=KnowledgePatch,
             summary="Edit a knowledge entry (any of title, content, language, tags, shortcut)",
             responses=_ENTRY_ERRORS, response_schema=ENTRY_SCHEMA),
    ApiRoute("DELETE", "/api/knowledge/<id:int>", delete_entry, tag="knowledge", roles=USERS,
             summary="Delete a knowledge entry (the team hub and the other agents delete it at their next sync)",
             responses={204: "deleted", 404: _ENTRY_ERRORS[404]}),
    ApiRoute("GET", "/api/quick-replies", quick_replies, tag="knowledge", roles=USERS_AND_EXTENSION,
             summary="Quick replies whose /shortcut starts with prefix, placeholders filled for the chat",
             description="text is the entry's content with {name}, {first_name} (the chat's customer) and {order} "
                         "(the newest order number quoted in the chat) filled; a value not known leaves neither "
                         "the placeholder nor punctuation around it (\"Olá {first_name}!\" -> \"Olá!\").",
             query=(("prefix", "string", "what follows the / typed so far (may be empty)"),
                    ("chat_id", "string", "the open chat's JID, for the placeholders"),
                    ("limit", "integer", "1-50 (20)")),
             responses={422: "invalid query"}, response_schema=QUICK_REPLIES_SCHEMA),
)
