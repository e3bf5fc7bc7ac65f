"""GET /api/extension/chat: what the extension's panel shows beside the open WhatsApp chat.

A handful of indexed reads (conversation by chat_id, customer by id or key, the chat's last inbound
message, its latest analysis): the panel asks on every chat switch and after each message.captured event.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.plugins import Request
from api.roles import USERS_AND_EXTENSION
from api.routing import ApiRoute
from crm.customer_keys import key_of_chat
from crm.service import Service
from storage import customers as customer_rows
from storage import messages as message_rows
from storage.database import Database

PREVIEW_CHARS = 200

CHAT_RESPONSE = {"type": "object", "required": ["chat_id", "customer", "conversation", "latest"], "properties": {
    "chat_id": {"type": "string"},
    "customer": {"type": ["object", "null"], "required": ["id", "key", "kind", "phone", "name", "tags", "status",
                                                          "first_contact_at", "message_count"]},
    "conversation": {"type": ["object", "null"], "required": ["id", "status", "message_count"]},
    "latest": {"type": ["object", "null"], "required": ["id", "message_id", "preview", "sent_at", "analysis"]},
}}


def extension_chat(request: Request, service: Service) -> dict[str, Any]:
    chat_id = request.query("chat_id")
    if chat_id is None or len(chat_id) > 256:
        raise ApiError(422, "validation_error", "chat_id: required, at most 256 characters", field="chat_id")
    return chat_panel(service.db, chat_id, service.config["capture.default_region"])


def chat_panel(db: Database, chat_id: str, default_region: str) -> dict[str, Any]:
    conversation = db.one("SELECT id, status, message_count, customer_id FROM conversations WHERE chat_id = :c",
                          {"c": chat_id})
    if conversation is not None:
        customer = customer_rows.get_customer(db, int(conversation["customer_id"]))
    else:
        key = key_of_chat(chat_id, default_region)
        customer = customer_rows.get_customer_by_phone(db, key) if key else None
    return {
        "chat_id": chat_id,
        "customer": _present_customer(customer) if customer else None,
        "conversation": ({"id": conversation["id"], "status": conversation["status"],
                          "message_count": conversation["message_count"]} if conversation else None),
        "latest": _latest_inbound(db, int(conversation["id"])) if conversation else None,
    }


def _present_customer(customer: dict[str, Any]) -> dict[str, Any]:
    return {"id": customer["id"], "key": customer["phone"], "kind": customer["kind"],
            "phone": customer["phone"] if customer["kind"] == "phone" else None, "name": customer["name"],
            "tags": customer["tags"], "status": customer["status"], "first_contact_at": customer["first_contact_at"],
            "message_count": customer["messages_in"] + customer["messages_out"]}


def _latest_inbound(db: Database, conversation_id: int) -> dict[str, Any] | None:
    message = db.one("SELECT id, message_id, content, sent_at FROM messages WHERE conversation_id = :c "
                     "AND direction = 'in' ORDER BY sent_at DESC, id DESC LIMIT 1", {"c": conversation_id})
    if message is None:
        return None
    analysis = message_rows.latest_analysis(db, int(message["id"]))
    return {"id": message["id"], "message_id": message["message_id"], "preview": message["content"][:PREVIEW_CHARS],
            "sent_at": message["sent_at"], "analysis": _present_analysis(analysis) if analysis else None}


def _present_analysis(analysis: dict[str, Any]) -> dict[str, Any]:
    return {"sentiment": analysis["sentiment"], "intent": analysis["intent"],
            "confidence": analysis["intent"]["confidence"], "suggested_responses": analysis["suggested_responses"],
            "engine": analysis["engine"], "model_version": analysis["model_version"],
            "language": analysis["language"], "created_at": analysis["created_at"]}


ROUTES = (
    ApiRoute("GET", "/api/extension/chat", extension_chat, tag="extension", roles=USERS_AND_EXTENSION,
             summary="The open chat's customer, conversation and latest analysis (the extension's panel)",
             query=(("chat_id", "string", "The chat's JID (<digits>@c.us, <digits>@lid or <id>@g.us)"),),
             responses={200: "the chat (nulls for an unknown chat)", 422: "chat_id missing"},
             response_schema=CHAT_RESPONSE),
)
