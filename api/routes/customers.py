"""Customers: list and search, the profile by phone number in any format (or a @lid / @g.us key), edits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.errors import ApiError, not_found
from api.plugins import Request
from api.roles import ADMINS, USERS
from api.routes.messages import PAGE_QUERY
from api.routing import ApiRoute
from api.schemas import CustomerPatch
from core.clock import iso
from crm.customer_keys import lookup_key
from crm.phones import InvalidPhone
from crm.service import Service
from storage import customers as customer_rows
from storage.sync_state import next_hlc

TREND_DAYS = 30


def list_customers(request: Request, service: Service) -> dict[str, Any]:
    limit = request.query_int("limit", 50, 1, 200)
    offset = request.query_int("offset", 0, 0)
    kind = request.query("kind")
    if kind is not None and kind not in ("phone", "lid", "group"):
        raise ApiError(422, "validation_error", "kind: must be one of phone, lid, group", field="kind")
    rows, total, capped = customer_rows.list_customers(service.db, search=request.query("q"),
                                                       status=request.query("status"), kind=kind, limit=limit,
                                                       offset=offset)
    # The order depends on the search's form: a client says so to its user ("newest first").
    order = "newest" if customer_rows.searches_words(request.query("q")) else "last_contact"
    return {"items": rows, "total": total, "total_capped": capped, "limit": limit, "offset": offset, "order": order}


def get_customer(service: Service, phone: str) -> dict[str, Any]:
    customer = customer_rows.get_customer_by_phone(service.db, customer_key(service, phone))
    if customer is None:
        raise not_found("customer")
    return profile(service, customer)


def patch_customer(request: Request, service: Service, phone: str) -> dict[str, Any]:
    found = customer_rows.get_customer_by_phone(service.db, customer_key(service, phone))  # follows a merged @lid
    if found is None:
        raise not_found("customer")
    number = found["phone"]
    body: CustomerPatch = request.body(CustomerPatch)
    changes = body.model_dump(exclude_unset=True)
    if "tags" in changes and changes["tags"] is not None:
        changes["tags"] = list(dict.fromkeys(t.strip() for t in changes["tags"] if t.strip()))
    for key in ("tags", "custom_fields", "status"):
        if key in changes and changes[key] is None:
            raise ApiError(422, "validation_error", f"{key}: may not be null", field=key)
    now = service.clock.now()
    with service.db.transaction():
        stamp = next_hlc(service.db, int(now.timestamp() * 1000))
        found = customer_rows.patch_customer(service.db, number, changes, iso(now), stamp)
    if not found:
        raise not_found("customer")
    return profile(service, customer_rows.get_customer_by_phone(service.db, number))


def delete_customer(service: Service, phone: str) -> dict[str, Any]:
    deleted = customer_rows.delete_customer(service.db, customer_key(service, phone), iso(service.clock.now()))
    if deleted is None:
        raise not_found("customer")
    return {"deleted": deleted}


def customer_key(service: Service, phone: str) -> str:
    """E.164 from a phone in any format or a @c.us JID; a @lid or @g.us JID as it is."""
    try:
        return lookup_key(phone, service.config["capture.default_region"])
    except InvalidPhone as exc:
        raise ApiError(422, "validation_error", f"phone: {exc}", field="phone") from None


def profile(service: Service, customer: dict[str, Any]) -> dict[str, Any]:
    since = iso(service.clock.now() - timedelta(days=TREND_DAYS))
    return {
        **customer,
        "message_counts": {"inbound": customer["messages_in"], "outbound": customer["messages_out"],
                           "total": customer["messages_in"] + customer["messages_out"]},
        "sentiment_trend": customer_rows.sentiment_trend(service.db, customer["id"], since),
        "top_intents": customer_rows.top_intents(service.db, customer["id"]),
        "recent_conversations": customer_rows.recent_conversations(service.db, customer["id"]),
    }


ROUTES = (
    ApiRoute("GET", "/api/customers", list_customers, tag="customers", roles=USERS, summary="List and search customers",
             query=(*PAGE_QUERY,
                    ("q", "string", "Search: words of the name or email (accents and case folded), or part of the "
                                    "phone, WhatsApp key or email (digits, or with an @). Words list the newest "
                                    "customers first (the answer's `order` is `newest`), otherwise the last "
                                    "contacted first (`last_contact`)"),
                    ("status", "string", "Status"),
                    ("kind", "string", "phone, lid (WhatsApp hides the phone) or group"))),
    ApiRoute("GET", "/api/customers/<phone>", get_customer, tag="customers", roles=USERS,
             summary="Customer profile by phone (any common format or WhatsApp id; @lid and @g.us keys too)",
             responses={404: "no such customer", 422: "not a phone number"}),
    ApiRoute("PATCH", "/api/customers/<phone>", patch_customer, tag="customers", roles=USERS, body=CustomerPatch,
             summary="Edit name, email, tags, custom fields or status",
             responses={404: "no such customer", 422: "invalid field"}),
    ApiRoute("DELETE", "/api/customers/<phone>", delete_customer, tag="customers", roles=ADMINS,
             summary="Delete a customer with its conversations, messages and analyses (admin)",
             description="The rows counted per table. A team hub is told through tombstones at the next sync "
                         "and deletes its copies of them; the team's shared profile of the phone stays.",
             responses={404: "no such customer", 422: "not a phone number"}),
)
