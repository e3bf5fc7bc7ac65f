"""Customer status from clear evidence (docs/decisions.md "Customer status from evidence").

A customer's own inbound message moves its status, inside the capture's transaction:
- -> "customer" (from lead, prospect, inactive or churned) on a purchase with payment evidence: a message that
  says the payment was made ("paguei", "segue o comprovante", "pix enviado": ai/builtin/context.py
  is_payment_evidence) that is itself a purchase, or that follows an inbound purchase of the same conversation
  within PURCHASE_LOOKBACK;
- -> "churned" (from customer or active: someone who had bought) on a cancellation (the message's intent, read
  with the conversation window). A lead who cancels an order it never paid for stays a lead: it never converted.
"blocked" is never changed, and neither are groups (a group's pseudo-customer has no purchases).

A person's edit wins when it is later than the evidence: customers.field_hlc["status"] holds the stamp of the
last status change (PATCH /api/customers stamps it with the edit time; this step stamps it with the evidence
message's sent time). Evidence applies only when it is later than that stamp, so the latest of the two, by time,
decides; a status set by hand after the message stays, and an old message imported later changes nothing. The
change is an ordinary shared profile edit: it syncs to the team hub like a PATCH.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ai.builtin.context import is_payment_evidence
from ai.builtin.normalize import normalize
from core.clock import iso, parse_iso
from storage import customers as customer_rows
from storage import messages as message_rows
from storage import sync_state
from storage.database import Database
from storage.hlc import Stamp

CUSTOMER, CHURNED = "customer", "churned"
# An inbound purchase this long before a payment message still makes the pair one sale.
PURCHASE_LOOKBACK = timedelta(days=7)
# The statuses each target may replace. "active" already bought (no move to customer); only someone who bought
# can churn; "blocked" is a person's decision and never moves.
MOVABLE_FROM = {
    CUSTOMER: ("lead", "prospect", "inactive", CHURNED),
    CHURNED: ("active", CUSTOMER),
}
REASONS = {CUSTOMER: "purchase_with_payment", CHURNED: "cancellation"}


@dataclass(frozen=True, slots=True)
class StatusChange:
    customer_id: int
    key: str  # the customer's phone or JID key
    previous: str
    status: str
    reason: str  # purchase_with_payment | cancellation
    message_id: int  # the message that was the evidence

    def event(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "phone": self.key, "status": self.status,
                "previous_status": self.previous, "reason": self.reason, "message_id": self.message_id}


def evidence_status(db: Database, record: dict[str, Any], analysis: dict[str, Any]) -> str | None:
    """The status this stored message is evidence for, or None. record is crm/capture.py's stored record."""
    if record["direction"] != "in" or record["customer_kind"] not in ("phone", "lid") or record["in_group"]:
        return None
    intent = analysis["intent"]["label"]
    if intent == "cancellation":
        return CHURNED
    if not is_payment_evidence(normalize(record["content"], record.get("language") or "pt")):
        return None
    if intent == "purchase":
        return CUSTOMER  # the purchase and its payment in one message
    since = iso(parse_iso(record["sent_at"]) - PURCHASE_LOOKBACK)
    if message_rows.has_intent_between(db, record["conversation_id"], "purchase", "in", since, record["sent_at"]):
        return CUSTOMER
    return None


def apply_evidence(db: Database, record: dict[str, Any], analysis: dict[str, Any], now: str) -> StatusChange | None:
    """Move the customer's status when this message is evidence for it (in the capture's transaction)."""
    target = evidence_status(db, record, analysis)
    if target is None:
        return None
    current = customer_rows.status_and_stamps(db, record["customer_id"])
    if current is None:
        return None
    key, status, stamps = current
    if status not in MOVABLE_FROM[target]:
        return None
    node = db.scalar("SELECT node_id FROM sync_state WHERE id = 1") or "local"
    evidence_stamp = Stamp(int(parse_iso(record["sent_at"]).timestamp() * 1000), 0, str(node)).encode()
    if stamps.get("status", "") >= evidence_stamp:
        return None  # set (by a person, or by later evidence) after this message: that decision stands
    stamps["status"] = evidence_stamp
    sync_state.write_profile_changes(db, record["customer_id"], {"status": target}, stamps, now)
    # A message dated slightly ahead of this machine's clock must not outrank an edit made right after it.
    sync_state.observe_hlc(db, [evidence_stamp])
    return StatusChange(record["customer_id"], key, status, target, REASONS[target], record["id"])
