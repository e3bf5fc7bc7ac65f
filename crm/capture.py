"""The capture pipeline: validate -> enrich -> analyse -> store (one transaction) -> notify.

Idempotent on the WhatsApp message id: a replay returns the stored message with duplicate=True, and
concurrent replays create exactly one row (the check and the insert run in one transaction on the one
connection, and a UNIQUE index backs it up).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ai.language import detect_language

from ai.analysis import AnalysisContext, Analyzer
from api.schemas import CaptureRequest
from core import events
from core.clock import Clock, hour_bucket, iso
from core.events import EventBus
from crm.phones import InvalidPhone, to_e164
from storage import customers as customer_rows
from storage import messages as message_rows
from storage import metrics as metric_rows
from storage.database import Database

log = logging.getLogger(__name__)


class CaptureError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CapturePipeline:
    def __init__(self, db: Database, analyzer: Analyzer, bus: EventBus, clock: Clock, default_region: str,
                 after_capture: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.db = db
        self.analyzer = analyzer
        self.bus = bus
        self.clock = clock
        self.default_region = default_region
        # Called with the stored message after commit (the LLM follow-up analysis, alerts).
        self.after_capture = after_capture

    def capture(self, request: CaptureRequest) -> tuple[dict[str, Any], bool]:
        """Store one captured message. Returns (response body, created)."""
        stored = message_rows.find_by_whatsapp_id(self.db, request.message_id)
        if stored is not None:
            return self._duplicate_response(stored), False
        try:
            phone = to_e164(request.phone, self.default_region)
        except InvalidPhone as exc:
            raise CaptureError("phone", str(exc)) from None
        language = detect_language(request.content) if request.content.strip() else None
        analysis = self._analyse(request, language)
        now = iso(self.clock.now())
        sent = request.sent_at
        with self.db.transaction():
            stored = message_rows.find_by_whatsapp_id(self.db, request.message_id)
            if stored is not None:  # another request stored it while this one was analysing
                return self._duplicate_response(stored), False
            record = self._store(request, phone, language, iso(sent), now, analysis)
            metric_rows.add(self.db, hour_bucket(sent), self._metric_increments(request, record, analysis))
        self._notify(record, analysis, now)
        if self.after_capture is not None:
            self.after_capture(record)
        return self._created_response(record, analysis), True

    def _analyse(self, request: CaptureRequest, language: str | None) -> dict[str, Any]:
        context = AnalysisContext(customer_name=request.name,
                                  direction=request.direction, message_type=request.type)
        return self.analyzer.analyse(request.content, language, context).to_dict()

    def _store(self, request: CaptureRequest, phone: str, language: str | None, sent_at: str, now: str,
               analysis: dict[str, Any]) -> dict[str, Any]:
        customer_id, new_customer = customer_rows.upsert_customer_on_message(
            self.db, phone=phone, name=request.name, language=language, direction=request.direction,
            sent_at=sent_at, now=now)
        conversation_id, answered_since = customer_rows.upsert_conversation_on_message(
            self.db, chat_id=request.chat_id, customer_id=customer_id, direction=request.direction,
            sent_at=sent_at, now=now)
        response_time = _seconds_between(answered_since, sent_at) if answered_since else None
        message_pk = message_rows.insert_message(self.db, {
            "message_id": request.message_id, "conversation_id": conversation_id, "customer_id": customer_id,
            "direction": request.direction, "type": request.type, "content": request.content,
            "language": language, "media_url": request.media_url,
            "raw": json.dumps(request.raw, ensure_ascii=False) if request.raw is not None else None,
            "sent_at": sent_at, "response_time_s": response_time, "now": now})
        analysis_pk = message_rows.insert_analysis(self.db, message_pk, analysis, now)
        return {"id": message_pk, "message_id": request.message_id, "conversation_id": conversation_id,
                "customer_id": customer_id, "customer_phone": phone, "customer_name": request.name,
                "direction": request.direction, "type": request.type, "content": request.content,
                "language": language, "sent_at": sent_at, "response_time_s": response_time,
                "new_customer": new_customer, "analysis_id": analysis_pk}

    @staticmethod
    def _metric_increments(request: CaptureRequest, record: dict[str, Any],
                           analysis: dict[str, Any]) -> list[tuple[str, float]]:
        increments: list[tuple[str, float]] = [("messages", 1), (f"direction.{request.direction}", 1)]
        if request.direction == "in":
            increments += [(f"sentiment.{analysis['sentiment']['label']}", 1),
                           (f"intent.{analysis['intent']['label']}", 1)]
        if record["new_customer"]:
            increments.append(("new_customers", 1))
        if record["response_time_s"] is not None:
            increments += [("response_time_sum", record["response_time_s"]), ("response_count", 1)]
        return increments

    def _notify(self, record: dict[str, Any], analysis: dict[str, Any], now: str) -> None:
        summary = {k: record[k] for k in ("id", "message_id", "conversation_id", "customer_id", "customer_phone",
                                          "customer_name", "direction", "type", "sent_at", "language")}
        summary["preview"] = record["content"][:200]
        self.bus.publish(events.MESSAGE_CAPTURED, summary, now)
        self.bus.publish(events.ANALYSIS_COMPLETED, {"message_id": record["id"], "conversation_id":
                                                     record["conversation_id"], "analysis": analysis}, now)

    @staticmethod
    def _created_response(record: dict[str, Any], analysis: dict[str, Any]) -> dict[str, Any]:
        return {"id": record["id"], "conversation_id": record["conversation_id"],
                "customer_id": record["customer_id"], "duplicate": False, "analysis": analysis}

    def _duplicate_response(self, stored: dict[str, Any]) -> dict[str, Any]:
        analysis = message_rows.latest_analysis(self.db, stored["id"])
        if analysis is not None:
            analysis.pop("id", None)
            analysis.pop("created_at", None)
        return {"id": stored["id"], "conversation_id": stored["conversation_id"],
                "customer_id": stored["customer_id"], "duplicate": True, "analysis": analysis}


def _seconds_between(start_iso: str, end_iso: str) -> float:
    from core.clock import parse_iso

    return max(0.0, (parse_iso(end_iso) - parse_iso(start_iso)).total_seconds())
