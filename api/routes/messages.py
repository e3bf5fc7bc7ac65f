"""Messages: capture from the extension, list and read."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from api.errors import ApiError, not_found
from api.plugins import Reply, Request, validation_error
from api.roles import USERS, USERS_AND_EXTENSION
from api.routing import ApiRoute
from api.schemas import CaptureBatchEnvelope, CaptureBatchRequest, CaptureRequest, parse_timestamp
from core.clock import iso
from crm.analysis import AnalysisBusy
from crm.capture import CaptureError
from crm.customer_keys import lookup_key
from crm.phones import InvalidPhone
from crm.service import Service
from storage import customers as customer_rows
from storage import messages as message_rows
from storage.database import DiskFull

log = logging.getLogger(__name__)

PAGE_QUERY = (("limit", "integer", "Page size, 1-200 (default 50)"), ("offset", "integer", "Rows to skip"))
DISK_FULL_RETRY_AFTER_S = 60  # freeing space takes a person: no point in retrying every few seconds
CAPTURE_RESPONSE = {"type": "object",
                    "required": ["id", "conversation_id", "customer_id", "duplicate", "conflict", "analysis"]}


def capture(request: Request, service: Service) -> Reply:
    refusal = capture_refusal(service)
    if refusal is not None:
        raise refusal
    body: CaptureRequest = request.body(CaptureRequest)
    try:
        result, created = service.pipeline.capture(body)
    except (CaptureError, AnalysisBusy, DiskFull) as exc:
        raise capture_failure(exc) from None
    return Reply(result, 201 if created else 200)


def capture_batch(request: Request, service: Service) -> Reply:
    envelope: CaptureBatchEnvelope = request.body(CaptureBatchEnvelope)
    refusal = capture_refusal(service)
    if refusal is not None:  # every item is answered as the single capture would be: retry later
        return Reply({"results": [error_result(refusal)] * len(envelope.messages)}, 200, refusal.headers)
    results: list[dict[str, Any] | None] = [None] * len(envelope.messages)
    valid: list[tuple[int, CaptureRequest]] = []
    for index, item in enumerate(envelope.messages):
        parsed = parse_capture_item(item)
        if isinstance(parsed, ApiError):
            results[index] = error_result(parsed)
        else:
            valid.append((index, parsed))
    outcomes = service.pipeline.capture_many([body for _, body in valid])
    for (index, _), outcome in zip(valid, outcomes, strict=True):
        results[index] = batch_result(outcome)
    retry = {r["status"] for r in results if r["status"] in (429, 503, 507)}
    headers = {"Retry-After": str(DISK_FULL_RETRY_AFTER_S if 507 in retry else 5)} if retry else {}
    return Reply({"results": results}, 200, headers)


def get_message(service: Service, id: int) -> dict[str, Any]:  # noqa: A002 - the URL's name
    message = message_rows.get_message(service.db, id)
    if message is None:
        raise not_found("message")
    return present_message(message, message_rows.latest_analysis(service.db, id))


def list_messages(request: Request, service: Service) -> dict[str, Any]:
    limit = request.query_int("limit", 50, 1, 200)
    offset = request.query_int("offset", 0, 0)
    before = request.query_int("before", 0, 1, 2**63 - 1) if request.query("before") is not None else None
    customer_id = None
    key = request.query("customer")
    if key:
        customer_id = _customer_id_for(service, key)
        if customer_id is None:
            return {"items": [], "total": 0, "total_capped": False, "next": None, "limit": limit, "offset": offset}
    try:
        page = message_rows.list_messages(
            service.db, conversation_id=request.query_int("conversation_id", 0, 0) or None,
            customer_id=customer_id, since=_time_filter(request, "since"), until=_time_filter(request, "until"),
            direction=_choice(request, "direction", ("in", "out")), search=request.query("q"),
            sentiment=_choice(request, "sentiment", ("positive", "neutral", "negative")),
            intent=request.query("intent"), limit=limit, offset=offset, before=before)
    except message_rows.AnchorGone:
        raise ApiError(422, "validation_error", "before: that message no longer exists (deleted meanwhile); start "
                       "again from the first page", field="before") from None
    analyses = message_rows.analyses_for(service.db, [r["id"] for r in page.rows])
    return {"items": [present_message(r, analyses.get(r["id"])) for r in page.rows], "total": page.total,
            "total_capped": page.total_capped, "next": page.next_before, "limit": limit, "offset": offset}


def present_message(row: dict[str, Any], analysis: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(row)
    out["conversation"] = {"id": row["conversation_id"], "href": f"/api/conversations/{row['conversation_id']}"}
    out["customer"] = {"id": row["customer_id"], "phone": row.get("customer_phone"), "name": row.get("customer_name"),
                       "href": f"/api/customers/{row.get('customer_phone')}"}
    out["analysis"] = analysis
    return out


def capture_refusal(service: Service) -> ApiError | None:
    """Why captures cannot be taken now (the extension keeps them queued and retries), or None."""
    if service.capture_paused:
        return ApiError(503, "capture_paused", "capture is paused in the agent", headers={"Retry-After": "30"})
    if service.maintenance.restoring:  # nothing acknowledged is lost
        return ApiError(503, "restoring", "a backup is being restored; retry shortly", headers={"Retry-After": "2"})
    return None


def capture_failure(exc: Exception) -> ApiError:
    if isinstance(exc, CaptureError):
        return ApiError(422, "validation_error", str(exc), field=exc.field)
    if isinstance(exc, AnalysisBusy):  # only with ai.engine = llm: nothing was stored, the extension retries
        return ApiError(429, "llm_busy", "the local LLM has too many jobs queued; retry shortly",
                        headers={"Retry-After": "5"})
    if isinstance(exc, DiskFull):  # rolled back: nothing of it stored, nothing acknowledged before is touched
        return ApiError(507, "disk_full", "the agent's disk is full: the message was not stored; it is taken "
                        "again once space is freed", headers={"Retry-After": str(DISK_FULL_RETRY_AFTER_S)})
    raise exc


def parse_capture_item(item: Any) -> CaptureRequest | ApiError:
    if not isinstance(item, dict):
        return ApiError(422, "validation_error", "body: must be a JSON object", field="body")
    try:
        return CaptureRequest.model_validate(item)
    except ValidationError as exc:
        return validation_error(exc)


def batch_result(outcome: tuple[dict[str, Any], bool] | BaseException) -> dict[str, Any]:
    if isinstance(outcome, tuple):
        body, created = outcome
        return {"status": 201 if created else 200, **body}
    if isinstance(outcome, (CaptureError, AnalysisBusy, DiskFull)):
        return error_result(capture_failure(outcome))
    log.error("capture in a batch failed", exc_info=outcome)  # as a single capture's 500: retried later
    return error_result(ApiError(500, "internal_error", "internal error; see the agent log"))


def error_result(error: ApiError) -> dict[str, Any]:
    return {"status": error.status, **error.body()}


def _customer_id_for(service: Service, key: str) -> int | None:
    try:
        lookup = lookup_key(key, service.config["capture.default_region"])
    except InvalidPhone:
        raise ApiError(422, "validation_error", "customer: not a valid phone number or WhatsApp JID",
                       field="customer") from None
    customer = customer_rows.get_customer_by_phone(service.db, lookup)
    return customer["id"] if customer else None


def _time_filter(request: Request, name: str) -> str | None:
    raw = request.query(name)
    if raw is None:
        return None
    try:
        return iso(parse_timestamp(raw))
    except ValueError as exc:
        raise ApiError(422, "validation_error", f"{name}: {exc}", field=name) from None


def _choice(request: Request, name: str, options: tuple[str, ...]) -> str | None:
    value = request.query(name)
    if value is not None and value not in options:
        raise ApiError(422, "validation_error", f"{name}: must be one of {', '.join(options)}", field=name)
    return value


ROUTES = (
    ApiRoute("POST", "/api/messages/capture", capture, tag="messages", roles=USERS_AND_EXTENSION, body=CaptureRequest,
             summary="Capture a WhatsApp message (idempotent on message_id)",
             responses={201: "stored", 200: "already stored (duplicate: true; conflict: true when the replay's "
                                                   "content, type or direction differs, recorded)",
                        422: "invalid field",
                        503: "capture paused or a restore running (Retry-After)",
                        507: "the agent's disk is full: not stored (Retry-After)"},
             response_schema=CAPTURE_RESPONSE),
    ApiRoute("POST", "/api/messages/capture/batch", capture_batch, tag="messages", roles=USERS_AND_EXTENSION,
             body=CaptureBatchRequest,
             summary="Capture up to 500 WhatsApp messages in one request (one group commit)",
             description="Each item is validated and answered on its own, in order: the single capture's answer "
                         "plus its status (201 stored, 200 duplicate, 422 invalid, 429 LLM busy, 503 capture "
                         "paused or restoring, 507 disk full). The newest received message of each chat carries "
                         "its analysis; the batch's other messages answer \"analysis\": null with "
                         "\"analysis_pending\": true and are analysed after the answer (a replay of one says the "
                         "same until then). The body may be up to 8 MiB.",
             responses={200: "one result per item", 422: "not 1 to 500 items"},
             response_schema={"type": "object", "required": ["results"], "properties": {"results": {
                 "type": "array", "items": {"type": "object", "required": ["status"]}}}}),
    ApiRoute("GET", "/api/messages", list_messages, tag="messages", roles=USERS, summary="List messages, newest first",
             description="`total` counts up to 10,000; beyond, `total` is 10,000 and `total_capped` is true "
                         "(show \"10,000+\"). `next` is the `before` of the next page, null on the last.",
             query=(*PAGE_QUERY, ("conversation_id", "integer", "Only this conversation"),
                    ("customer", "string", "Only this customer (phone in any format, or a @lid/@g.us key)"),
                    ("since", "string", "Sent at or after (ISO 8601 or epoch ms)"),
                    ("until", "string", "Sent before (ISO 8601 or epoch ms)"),
                    ("before", "integer", "Keyset page: the messages after this id in the list's order (pass "
                                          "the previous answer's `next`; cheaper than offset on deep pages)"),
                    ("direction", "string", "in or out"),
                    ("q", "string", "Full-text search: every word, whole (\"entreg*\" for a prefix), accents "
                                    "and case folded; results newest captured first"),
                    ("sentiment", "string", "positive, neutral or negative"), ("intent", "string", "Intent label"))),
    ApiRoute("GET", "/api/messages/<id:int>", get_message, tag="messages", roles=USERS,
             summary="A message with its latest analysis", responses={404: "no such message"}),
)
