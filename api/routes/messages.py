"""Messages: capture from the extension, list and read."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError, not_found
from api.plugins import Reply, Request
from api.schemas import CaptureRequest, parse_timestamp
from core.clock import iso
from crm.analysis import AnalysisBusy
from crm.capture import CaptureError
from crm.phones import InvalidPhone, to_e164
from crm.service import Service
from storage import customers as customer_rows
from storage import messages as message_rows

PAGE_QUERY = (("limit", "integer", "Page size, 1-200 (default 50)"), ("offset", "integer", "Rows to skip"))


def register(routes, service: Service) -> None:  # noqa: ANN001
    def capture(request: Request) -> Reply:
        if service.capture_paused:
            raise ApiError(503, "capture_paused", "capture is paused in the agent", headers={"Retry-After": "30"})
        if service.maintenance.restoring:  # the extension retries; nothing acknowledged is lost
            raise ApiError(503, "restoring", "a backup is being restored; retry shortly", headers={"Retry-After": "2"})
        body: CaptureRequest = request.body(CaptureRequest)
        try:
            result, created = service.pipeline.capture(body)
        except CaptureError as exc:
            raise ApiError(422, "validation_error", str(exc), field=exc.field) from None
        except AnalysisBusy:  # only with ai.engine = llm: nothing was stored, the extension retries
            raise ApiError(429, "llm_busy", "the local LLM has too many jobs queued; retry shortly",
                           headers={"Retry-After": "5"}) from None
        return Reply(result, 201 if created else 200)

    def get_message(request: Request, id: int) -> dict[str, Any]:  # noqa: A002 - the URL's name
        message = message_rows.get_message(service.db, id)
        if message is None:
            raise not_found("message")
        return present_message(message, message_rows.latest_analysis(service.db, id))

    def list_messages(request: Request) -> dict[str, Any]:
        limit = request.query_int("limit", 50, 1, 200)
        offset = request.query_int("offset", 0, 0)
        customer_id = None
        phone = request.query("customer")
        if phone:
            customer_id = _customer_id_for(service, phone)
            if customer_id is None:
                return {"items": [], "total": 0, "limit": limit, "offset": offset}
        rows, total = message_rows.list_messages(
            service.db, conversation_id=request.query_int("conversation_id", 0, 0) or None,
            customer_id=customer_id, since=_time_filter(request, "since"), until=_time_filter(request, "until"),
            direction=_choice(request, "direction", ("in", "out")), search=request.query("q"),
            sentiment=_choice(request, "sentiment", ("positive", "neutral", "negative")),
            intent=request.query("intent"), limit=limit, offset=offset)
        analyses = message_rows.analyses_for(service.db, [r["id"] for r in rows])
        return {"items": [present_message(r, analyses.get(r["id"])) for r in rows], "total": total,
                "limit": limit, "offset": offset}

    routes.add("POST", "/api/messages/capture", capture, tag="messages", body=CaptureRequest,
               summary="Capture a WhatsApp message (idempotent on message_id)",
               responses={201: "stored", 200: "already stored (duplicate: true)", 422: "invalid field",
                          503: "capture paused or a restore running (Retry-After)"},
               response_schema={"type": "object", "required": ["id", "conversation_id", "customer_id", "duplicate",
                                                               "analysis"]})
    routes.add("GET", "/api/messages", list_messages, tag="messages", summary="List messages, newest first",
               query=(*PAGE_QUERY, ("conversation_id", "integer", "Only this conversation"),
                      ("customer", "string", "Only this customer (phone in any format)"),
                      ("since", "string", "Sent at or after (ISO 8601 or epoch ms)"),
                      ("until", "string", "Sent before (ISO 8601 or epoch ms)"),
                      ("direction", "string", "in or out"), ("q", "string", "Text search"),
                      ("sentiment", "string", "positive, neutral or negative"), ("intent", "string", "Intent label")))
    routes.add("GET", "/api/messages/<id:int>", get_message, tag="messages",
               summary="A message with its latest analysis", responses={404: "no such message"})


def present_message(row: dict[str, Any], analysis: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(row)
    out["conversation"] = {"id": row["conversation_id"], "href": f"/api/conversations/{row['conversation_id']}"}
    out["customer"] = {"id": row["customer_id"], "phone": row.get("customer_phone"), "name": row.get("customer_name"),
                       "href": f"/api/customers/{row.get('customer_phone')}"}
    out["analysis"] = analysis
    return out


def _customer_id_for(service: Service, phone: str) -> int | None:
    try:
        e164 = to_e164(phone, service.config["capture.default_region"])
    except InvalidPhone:
        raise ApiError(422, "validation_error", "customer: not a valid phone number", field="customer") from None
    customer = customer_rows.get_customer_by_phone(service.db, e164)
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
