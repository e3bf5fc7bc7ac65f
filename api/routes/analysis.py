"""POST /api/analysis/generate: analyse a text, or re-analyse a stored message and keep the result."""

from __future__ import annotations

from typing import Any

from ai.analysis import AnalysisContext
from ai.language import detect_language
from api.errors import ApiError, not_found
from api.plugins import Request
from api.roles import USERS_AND_EXTENSION
from api.routing import ApiRoute
from api.schemas import AnalysisRequest
from core import events
from core.clock import iso, parse_iso
from crm.analysis import AnalysisBusy
from crm.conversation_window import stored_window
from crm.service import Service
from storage import customers as customer_rows
from storage import messages as message_rows


def generate(request: Request, service: Service) -> dict[str, Any]:
    body: AnalysisRequest = request.body(AnalysisRequest)
    if (body.text is None) == (body.message_id is None):
        raise ApiError(422, "validation_error", "body: give exactly one of text or message_id", field="text")
    if body.message_id is None:
        language = body.language or detect_language(body.text)
        return _analyse(service, body.text, language, _text_context(service, body.conversation_id), body.engine)
    if body.conversation_id is not None:
        raise ApiError(422, "validation_error", "conversation_id: give it with text only (a stored message's "
                       "conversation is known)", field="conversation_id")
    message = message_rows.get_message(service.db, body.message_id)
    if message is None:
        raise not_found("message")
    language = body.language or message["language"] or detect_language(message["content"])
    conversation = customer_rows.get_conversation(service.db, message["conversation_id"])
    window = stored_window(service.db, conversation["chat_id"], parse_iso(message["sent_at"]), message["id"]) \
        if conversation is not None else ()
    context = AnalysisContext(customer_name=message["customer_name"], direction=message["direction"],
                              message_type=message["type"], previous=window)
    analysis = _analyse(service, message["content"], language, context, body.engine)
    now = iso(service.clock.now())
    with service.db.transaction():
        analysis_id = message_rows.insert_analysis(service.db, message["id"], analysis, now)
    service.bus.publish(events.ANALYSIS_COMPLETED, {"message_id": message["id"], "conversation_id":
                                                    message["conversation_id"], "analysis": analysis}, now)
    return {**analysis, "id": analysis_id, "message_id": message["id"], "stored": True}


def _text_context(service: Service, conversation_id: int | None) -> AnalysisContext:
    """A text alone has no window; with a conversation id, the conversation's last messages before now."""
    if conversation_id is None:
        return AnalysisContext()
    conversation = customer_rows.get_conversation(service.db, conversation_id)
    if conversation is None:
        raise not_found("conversation")
    return AnalysisContext(previous=stored_window(service.db, conversation["chat_id"], service.clock.now()))


def _analyse(service: Service, text: str, language: str | None, context: AnalysisContext,
             engine: str) -> dict[str, Any]:
    try:
        return service.analyse(text, language, context, engine)
    except AnalysisBusy:
        raise ApiError(429, "llm_busy", "the local LLM has too many jobs queued; retry shortly or use "
                       "engine=rules", headers={"Retry-After": "5"}) from None


ROUTES = (
    ApiRoute("POST", "/api/analysis/generate", generate, tag="analysis", roles=USERS_AND_EXTENSION,
             body=AnalysisRequest,
             summary="Analyse a text, or a stored message (the result is stored)",
             description="engine: auto (the LLM when it is ready, else the built-in analyzer), rules, or llm "
                         "(falls back to rules when the model is unavailable; the response's engine says which "
                         "one answered). A stored message (message_id) is read with its conversation's window: "
                         "up to 4 earlier messages of the chat, both directions, sent within 30 minutes before it; "
                         "a text with conversation_id is read as the next message of that conversation (its last "
                         "messages of the past 30 minutes). The analysis's context says whether they changed "
                         "the reading ({\"used\": true, \"previous\": k}).",
             responses={200: "analysis", 404: "no such message or conversation", 429: "LLM queue full"}),
)
