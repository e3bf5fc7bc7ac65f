"""Conversations: list, read, change status (conversion tracking)."""

from __future__ import annotations

from typing import Any

from api.errors import not_found
from api.plugins import Request
from api.roles import USERS
from api.routes.messages import PAGE_QUERY, _choice
from api.routing import ApiRoute
from api.schemas import ConversationPatch
from core.clock import iso
from crm.service import Service
from storage import customers as conversation_rows

STATUSES = ("open", "pending", "converted", "lost", "closed")


def list_conversations(request: Request, service: Service) -> dict[str, Any]:
    limit = request.query_int("limit", 50, 1, 200)
    offset = request.query_int("offset", 0, 0)
    rows, total = conversation_rows.list_conversations(
        service.db, status=_choice(request, "status", STATUSES),
        customer_id=request.query_int("customer_id", 0, 0) or None, limit=limit, offset=offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}


def get_conversation(service: Service, id: int) -> dict[str, Any]:  # noqa: A002 - the URL's name
    row = conversation_rows.get_conversation(service.db, id)
    if row is None:
        raise not_found("conversation")
    return row


def patch_conversation(request: Request, service: Service, id: int) -> dict[str, Any]:  # noqa: A002
    body: ConversationPatch = request.body(ConversationPatch)
    with service.db.transaction():
        previous = conversation_rows.set_conversation_status(service.db, id, body.status,
                                                             iso(service.clock.now()))
    if previous is None:
        raise not_found("conversation")
    return conversation_rows.get_conversation(service.db, id)


ROUTES = (
    ApiRoute("GET", "/api/conversations", list_conversations, tag="conversations", roles=USERS,
             summary="List conversations, most recent first",
             query=(*PAGE_QUERY, ("status", "string", "open, pending, converted, lost or closed"),
                    ("customer_id", "integer", "Only this customer"))),
    ApiRoute("GET", "/api/conversations/<id:int>", get_conversation, tag="conversations", roles=USERS,
             summary="One conversation", responses={404: "no such conversation"}),
    ApiRoute("PATCH", "/api/conversations/<id:int>", patch_conversation, tag="conversations", roles=USERS,
             body=ConversationPatch, summary="Set the status (open, pending, converted, lost, closed)",
             responses={404: "no such conversation", 422: "invalid status"}),
)
