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
from core.clock import iso
from crm.analysis import AnalysisBusy
from crm.service import Service
from storage import messages as message_rows


def generate(request: Request, service: Service) -> dict[str, Any]:
    body: AnalysisRequest = request.body(AnalysisRequest)
    if (body.text is None) == (body.message_id is None):
        raise ApiError(422, "validation_error", "body: give exactly one of text or message_id", field="text")
    if body.message_id is None:
        language = body.language or detect_language(body.text)
        return _analyse(service, body.text, language, AnalysisContext(), body.engine)
    message = message_rows.get_message(service.db, body.message_id)
    if message is None:
        raise not_found("message")
    language = body.language or message["language"] or detect_language(message["content"])
    context = AnalysisContext(customer_name=message["customer_name"], direction=message["direction"],
                              message_type=message["type"])
    analysis = _analyse(service, message["content"], language, context, body.engine)
    now = iso(service.clock.now())
    with service.db.transaction():
        analysis_id = message_rows.insert_analysis(service.db, message["id"], analysis, now)
    service.bus.publish(events.ANALYSIS_COMPLETED, {"message_id": message["id"], "conversation_id":
                                                    message["conversation_id"], "analysis": analysis}, now)
    return {**analysis, "id": analysis_id, "message_id": message["id"], "stored": True}


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
                         "one answered).",
             responses={200: "analysis", 404: "no such message", 429: "LLM queue full"}),
)
