"""'Draft with AI': POST /api/replies/draft starts a streamed LLM reply, DELETE cancels it; GET /api/ai/models and
POST /api/ai/model-test describe and time the model (crm/drafts.py, crm/ai_models.py)."""

from __future__ import annotations

from typing import Any

import bottle

from api.errors import ApiError
from api.plugins import Reply, Request
from api.roles import ADMINS, USERS_AND_EXTENSION
from api.routing import ApiRoute
from api.schemas import DraftRequest
from crm.drafts import DraftRefused, start_draft
from crm.service import Service

DRAFT_EVENTS = ("reply.draft.started {draft_id, message_id, model}, reply.draft.token {draft_id, text} (the new "
                "text since the last one), then one of reply.draft.completed {draft_id, message_id, text, tokens, "
                "ttft_ms, tokens_per_s, stopped}, reply.draft.failed {draft_id, error}, reply.draft.cancelled "
                "{draft_id}")


def _refused(exc: DraftRefused) -> ApiError:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return ApiError(exc.status, exc.code, exc.message, headers=headers)


def draft(request: Request, service: Service) -> Reply:
    body: DraftRequest = request.body(DraftRequest)
    try:
        started = start_draft(service, request.principal.rate_key, body.message_id)
    except DraftRefused as exc:
        raise _refused(exc) from None
    return Reply(started, 202)


def cancel_draft(request: Request, service: Service, draft_id: str) -> bottle.HTTPResponse:
    if not service.drafts.cancel(request.principal.rate_key, draft_id):
        raise ApiError(404, "not_found", "no such running draft of yours")
    return bottle.HTTPResponse(status=204)


def models(service: Service) -> dict[str, Any]:
    return service.ai_models.listing()


def model_test(service: Service) -> dict[str, Any]:
    try:
        return service.drafts.model_test()
    except DraftRefused as exc:
        raise _refused(exc) from None


ROUTES = (
    ApiRoute("POST", "/api/replies/draft", draft, tag="analysis", roles=USERS_AND_EXTENSION, body=DraftRequest,
             summary="Draft a reply to a stored customer message with the local LLM (streamed over the WebSocket)",
             description="Answers at once with the draft's id and the knowledge entries it uses; the reply arrives "
                         "as WebSocket events sent only to the caller's own sessions: " + DRAFT_EVENTS + ". The "
                         "draft is only text: it is never sent. One draft per caller: a new one cancels the old.",
             responses={202: "started", 404: "no such message", 409: "the LLM is off (llm_disabled)",
                        422: "the message has no text", 429: "too many drafts running (draft_busy)",
                        503: "the LLM cannot take it now (llm_unavailable)"},
             response_schema={"type": "object", "required": ["draft_id", "message_id", "knowledge"],
                              "properties": {"draft_id": {"type": "string"}, "message_id": {"type": "integer"},
                                             "knowledge": {"type": "array", "items": {"type": "integer"}}}}),
    ApiRoute("DELETE", "/api/replies/draft/<draft_id>", cancel_draft, tag="analysis", roles=USERS_AND_EXTENSION,
             summary="Cancel one of your running drafts (reply.draft.cancelled follows, never completed)",
             responses={204: "cancelled", 404: "no such running draft of yours"}),
    ApiRoute("GET", "/api/ai/models", models, tag="system", roles=ADMINS,
             summary="The GGUF model files in the models folder (admin): size, quantisation, architecture, chat "
                     "template, which one is current, and advice on choosing one",
             responses={200: "models"}),
    ApiRoute("POST", "/api/ai/model-test", model_test, tag="system", roles=ADMINS,
             summary="Time a short draft with the current model (admin): time to first token and tokens/s",
             responses={200: "figures", 409: "the LLM is off (llm_disabled)", 503: "the LLM could not answer"}),
)
