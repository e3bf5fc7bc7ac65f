"""The capture pipeline: validate -> enrich -> analyse -> store (one transaction) -> notify.

validate_and_enrich turns the validated request body (any object with CaptureFields' attributes: the route
passes its pydantic model) into a frozen CaptureItem: the customer's key (E.164 phone or JID key) and kind,
the conversation's owner, the sent time as an aware datetime (chosen once, then carried). Analysis goes
through ai/items.py's AnalysisItem and AnalysisResult; only the rules worker's pipe sees their wire form.

Idempotent on the WhatsApp message id: a replay returns the stored message with duplicate=True, and
concurrent replays create exactly one row (the check and the insert run in one transaction on the one
connection, and a UNIQUE index backs it up). A replay whose content, type or direction differs from the stored
message keeps the stored one, is answered with conflict=True too, and is recorded in capture_conflicts (in the
same transaction as the batch) with one warning line.

Customers: crm/customer_keys.py names each capture's customer (a phone, a @lid JID, a group's JID); a
@lid customer is merged into its phone's customer in the same transaction once a capture brings the phone.
sent_at comes from WhatsApp's pre-plain-text when it parses (crm/whatsapp_time.py), else the timestamp.

Group commit: captures that arrive together (and the items of one batch request) are written in one
transaction. The first request to reach the write step becomes the leader: it yields once so that
concurrent requests can queue behind it, then writes the queue (up to MAX_BATCH), commits and wakes the
others. A request is answered only after the commit that holds its message, so every acknowledged message
is durable; one COMMIT (and one change-sequence update) is shared by the batch instead of paid by each
message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from ai.analysis import PreviousMessage
from ai.items import AnalysisItem, AnalysisResult
from core import events
from core.clock import Clock, hour_bucket, iso, parse_iso
from core.events import EventBus
from core.untrusted import loggable
from crm.conversation_window import capture_windows
from crm.customer_keys import CustomerKeyError, CustomerRef, capture_customer
from crm.customer_status import apply_evidence
from crm.whatsapp_time import accepted_range, choose_sent_at, sender_name
from storage import customers as customer_rows
from storage import messages as message_rows
from storage import metrics as metric_rows
from storage.database import Database, DiskFull

log = logging.getLogger(__name__)

MAX_BATCH = 500  # a whole batch request (at most 500 captures) in one commit; live traffic makes ~50


class CaptureError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CaptureFields(Protocol):
    """The validated capture body (api.schemas.CaptureRequest has these attributes)."""

    message_id: str
    chat_id: str
    phone: str | None
    participant: str | None
    name: str | None
    chat_name: str | None
    content: str
    type: str
    direction: str
    media_url: str | None
    raw: dict[str, Any] | None
    pre_plain_text: str | None
    locale: str | None
    utc_offset_min: int | None

    @property
    def seen_at(self) -> datetime: ...  # the timestamp field as an aware UTC datetime


@dataclass(frozen=True, slots=True)
class CaptureItem:
    """One capture, validated and enriched, ready to analyse and store."""

    message_id: str
    chat_id: str
    customer: CustomerRef  # key (E.164 phone or JID key), kind, name and the lid key to merge from
    owner: CustomerRef | None  # the conversation's customer when it differs (a group's own pseudo-customer)
    participant: str | None  # the sender's JID in a group
    content: str
    type: str
    direction: str  # "in" or "out"
    media_url: str | None
    raw: dict[str, Any] | None
    sent: datetime  # aware UTC: WhatsApp's pre-plain-text time when plausible, else the timestamp
    sent_at: str  # the same moment in the stored ISO form

    def analysis_item(self, previous: tuple[PreviousMessage, ...] = ()) -> AnalysisItem:
        return AnalysisItem(self.content, None, self.customer.name, self.direction, self.type, previous)


def validate_and_enrich(body: CaptureFields, *, now: datetime, default_region: str) -> CaptureItem:
    """Name the customer and the sent time; CaptureError (with the request field) when neither can be.

    No database access: this runs before the group commit."""
    name = body.name
    if name is None and body.direction == "in":
        name = sender_name(body.pre_plain_text)
    try:
        customer, owner = capture_customer(chat_id=body.chat_id, phone=body.phone, participant=body.participant,
                                           direction=body.direction, name=name, chat_name=body.chat_name,
                                           default_region=default_region)
    except CustomerKeyError as exc:
        raise CaptureError(exc.field, exc.message) from None
    earliest, latest = accepted_range(now)
    sent = choose_sent_at(body.seen_at, body.pre_plain_text, body.locale, body.utc_offset_min, earliest, latest)
    return CaptureItem(message_id=body.message_id, chat_id=body.chat_id, customer=customer, owner=owner,
                       participant=body.participant, content=body.content, type=body.type,
                       direction=body.direction, media_url=body.media_url, raw=body.raw, sent=sent,
                       sent_at=iso(sent))


@dataclass
class _Pending:
    """One capture waiting for the group commit."""

    item: CaptureItem
    result: AnalysisResult | None = None  # language and analysis: set by the leader for the whole batch
    done: threading.Event = field(default_factory=threading.Event)
    record: dict[str, Any] | None = None  # set when stored
    duplicate_of: dict[str, Any] | None = None  # set when it was already stored
    # (field, replayed value) where a replay differs from the stored message: recorded with the batch's commit
    conflicts: list[tuple[str, Any]] = field(default_factory=list)
    error: BaseException | None = None
    promoted: bool = False  # woken to lead the next group commit rather than because it was written
    written: threading.Event = field(default_factory=threading.Event)  # stored, found stored, or failed
    # False for the older inbound messages of a chat in one batch request (a history import): only the newest
    # gets the LLM's follow-up analysis and may raise a negative-message alert, so an import neither buries
    # the message the panel shows under hundreds of old ones in the LLM queue nor alerts about the past.
    latest_of_chat: bool = True
    window: tuple[PreviousMessage, ...] = ()  # the conversation's earlier messages the analysis read
    # True for every message of a batch request but the newest inbound one of each chat: stored without its
    # analysis and answered analysis_pending; crm/analysis_backfill.py analyses it after the answer.
    analysis_deferred: bool = False

    @property
    def analysis(self) -> dict[str, Any] | None:
        return self.result.analysis if self.result is not None else None

    @property
    def language(self) -> str | None:
        return self.result.language if self.result is not None else None


class CapturePipeline:
    def __init__(self, db: Database,
                 analyse_batch: Callable[[list[AnalysisItem]], list[AnalysisResult | BaseException]],
                 bus: EventBus, clock: Clock, default_region: str,
                 after_capture: Callable[[dict[str, Any]], None] | None = None,
                 ground: Callable[[list[AnalysisItem], list[AnalysisResult | BaseException]], None] | None = None,
                 on_disk_full: Callable[[DiskFull], None] | None = None,
                 analysis_deferred: Callable[[], None] | None = None) -> None:
        self.db = db
        # One result (or the exception its capture answers) per item, in order. A whole batch at once, so
        # the service can hand it to another process (ai/rules_worker.py).
        self.analyse_batch = analyse_batch
        self.bus = bus
        self.clock = clock
        self.default_region = default_region
        # Called with each stored message after commit (the LLM follow-up analysis, alerts).
        self.after_capture = after_capture
        # Grounds a batch's analyses in the knowledge base (crm/grounding.py), here in the service process: the
        # rules worker process does not hold the knowledge.
        self.ground = ground
        # Called when a batch found the disk full (health and the tray say why captures are refused).
        self.on_disk_full = on_disk_full
        # Called after a commit that stored messages whose analysis was deferred (wakes the backfill job).
        self.analysis_deferred = analysis_deferred
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._leader_active = False
        # Message ids queued or being written. Nothing yields between the stored-check at the start of
        # capture() and joining the queue, so a second copy of a message not yet committed is always here.
        self._unwritten: dict[str, _Pending] = {}

    @property
    def idle(self) -> bool:
        """No accepted capture is waiting to be written (a restore waits for this before it starts)."""
        with self._queue_lock:
            return not self._queue and not self._leader_active

    def capture(self, request: CaptureFields) -> tuple[dict[str, Any], bool]:
        """Store one captured message. Returns (response body, created)."""
        pending = self._prepare(request)
        self._write_with_group_commit([pending])
        if pending.error is not None:
            raise pending.error
        return self._answer(pending)

    def capture_many(self, requests: list[CaptureFields]) -> list[tuple[dict[str, Any], bool] | BaseException]:
        """Store a batch's captures through one group commit; one outcome per request, in order:
        (response body, created) or the exception the single capture would have raised."""
        outcomes: list[Any] = []  # a _Pending until written, then its answer
        prepared: list[_Pending] = []
        for request in requests:
            try:
                pending = self._prepare(request)
            except CaptureError as exc:
                outcomes.append(exc)
                continue
            prepared.append(pending)
            outcomes.append(pending)
        _mark_the_latest_inbound_of_each_chat(prepared)
        for pending in prepared:
            pending.analysis_deferred = not (pending.latest_of_chat and pending.item.direction == "in")
        self._write_with_group_commit(prepared)
        return [self._answer_or_error(o) if isinstance(o, _Pending) else o for o in outcomes]

    def _prepare(self, request: CaptureFields) -> _Pending:
        return _Pending(validate_and_enrich(request, now=self.clock.now(), default_region=self.default_region))

    def _answer_or_error(self, pending: _Pending) -> tuple[dict[str, Any], bool] | BaseException:
        return pending.error if pending.error is not None else self._answer(pending)

    def _answer(self, pending: _Pending) -> tuple[dict[str, Any], bool]:
        if pending.duplicate_of is not None:
            return self._duplicate_response(pending.duplicate_of, bool(pending.conflicts)), False
        return self._created_response(pending.record, pending.analysis, pending.analysis_deferred), True

    # -- analysis ---------------------------------------------------------------------------------

    def _find_already_stored(self, batch: list[_Pending]) -> None:
        """Mark the batch's replays of stored messages, with one query for the whole batch."""
        stored = message_rows.find_many_by_whatsapp_id(self.db, [p.item.message_id for p in batch])
        for pending in batch:
            self._mark_duplicate(pending, stored.get(pending.item.message_id))

    @staticmethod
    def _mark_duplicate(pending: _Pending, stored: dict[str, Any] | None) -> None:
        """A replay answers the stored message; what it changed is kept to record (and answer) as a conflict."""
        pending.duplicate_of = stored
        if stored is not None:
            replayed = {"content": pending.item.content, "type": pending.item.type, "direction": pending.item.direction}
            pending.conflicts = [(name, replayed[name]) for name in message_rows.REPLAYED_FIELDS
                                 if stored[name] != replayed[name]]

    def _analyse(self, batch: list[_Pending]) -> None:
        """Detect the language and analyse every new message of the batch whose analysis is not deferred (one
        call for the batch)."""
        batch = [p for p in batch if p.duplicate_of is None]
        if all(p.analysis_deferred for p in batch):
            return
        # Each message is read with its conversation's earlier messages (stored, or earlier in this batch).
        for pending, window in zip(batch, capture_windows(self.db, [p.item for p in batch]), strict=True):
            pending.window = window
        batch = [p for p in batch if not p.analysis_deferred]
        items = [p.item.analysis_item(p.window) for p in batch]
        results = self.analyse_batch(items)
        if self.ground is not None:
            self.ground(items, results)
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                pending.error = result
            else:
                pending.result = result

    # -- group commit -----------------------------------------------------------------------------

    def _write_with_group_commit(self, pendings: list[_Pending]) -> None:
        """Queue the captures of one request and return once each is written (or found a duplicate)."""
        queued: list[_Pending] = []
        twins: list[tuple[_Pending, _Pending]] = []
        with self._queue_lock:
            for pending in pendings:
                twin = self._unwritten.get(pending.item.message_id)
                if twin is None:
                    self._unwritten[pending.item.message_id] = pending
                    self._queue.append(pending)
                    queued.append(pending)
                else:  # a copy queued by another request, or earlier in this batch
                    twins.append((twin, pending))
            lead = bool(queued) and not self._leader_active
            if lead:
                self._leader_active = True
        self._wait_until_written(queued, lead)
        for twin, pending in twins:
            self._answer_as_duplicate_of(twin, pending)

    def _wait_until_written(self, queued: list[_Pending], lead: bool) -> None:
        """Wait for each queued capture in turn, leading a group commit whenever leadership comes here.

        Leadership passes to the oldest waiting capture (the queue's head), so with a big batch it may
        come back to one of this request's own captures: the loop then leads again.
        """
        for pending in queued:
            while True:
                if lead:
                    lead = False
                    self._lead_one_batch_keeping_errors()
                if pending.written.is_set():
                    break
                pending.done.wait()
                if not pending.promoted:
                    break  # written by a leader
                # The previous leader handed over: this request writes the next batch (which includes it).
                pending.promoted = False
                pending.done.clear()
                lead = True

    def _lead_one_batch_keeping_errors(self) -> None:
        try:
            self._lead_one_batch()
        except Exception:  # every capture of the failed batch carries the error; its request answers it
            log.exception("group commit failed")

    def _answer_as_duplicate_of(self, twin: _Pending, pending: _Pending) -> None:
        """A concurrent replay of a message still being written: wait for that write, answer duplicate."""
        twin.written.wait()
        stored = message_rows.find_by_whatsapp_id(self.db, pending.item.message_id)
        if stored is None:
            pending.error = twin.error or RuntimeError("the first copy of this message was not stored")
            return
        self._mark_duplicate(pending, stored)
        if pending.conflicts:
            self._record_conflicts_alone(pending)
            if pending.error is None:
                _log_conflict(pending)

    def _record_conflicts_alone(self, pending: _Pending) -> None:
        """A replay found outside a group commit (a concurrent twin, the UNIQUE guard): its own transaction."""
        try:
            with self.db.transaction():
                self._record_conflicts(pending, iso(self.clock.now()))
        except Exception as exc:  # noqa: BLE001 - answered as an error, so the extension retries it
            log.warning("the conflict of replayed capture %s could not be recorded: %s",
                        loggable(pending.item.message_id), exc)
            pending.error = exc

    def _record_conflicts(self, pending: _Pending, now: str) -> None:
        for name, value in pending.conflicts:
            message_rows.record_replay_conflict(self.db, pending.duplicate_of, name, value, now)

    def _lead_one_batch(self) -> None:
        """Write the queued captures (up to MAX_BATCH), then hand leadership to the next waiting request.

        Handing over after one batch keeps the leader's own answer from waiting behind later batches.
        """
        time.sleep(0)  # under gevent: let requests that arrived meanwhile join this batch
        with self._queue_lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._find_already_stored(batch)
            self._analyse(batch)
            self._write_batch(batch)
        except BaseException as exc:
            for item in batch:
                item.error = item.error or exc
                item.written.set()
                item.done.set()
            raise
        finally:
            with self._queue_lock:
                for item in batch:
                    self._unwritten.pop(item.item.message_id, None)
                if self._queue:
                    successor = self._queue[0]
                    successor.promoted = True
                    successor.done.set()
                else:
                    self._leader_active = False

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            self._store_in_one_transaction(batch)
        except DiskFull as exc:  # rolled back: every new capture of the batch is refused (507) and retried later
            self._refuse_for_disk_full(batch, exc)
        except Exception:  # noqa: BLE001 - isolate the bad capture: retry each in its own transaction
            log.warning("group commit of %d captures failed; writing them one by one", len(batch), exc_info=True)
            for item in batch:
                if item.error is not None or (item.duplicate_of is not None and not item.conflicts):
                    continue
                item.record = None
                try:
                    self._store_in_one_transaction([item])  # a replay's transaction records its conflicts
                except Exception as exc:
                    if item.duplicate_of is not None:
                        log.warning("the conflict of replayed capture %s could not be recorded: %s",
                                    loggable(item.item.message_id), exc)
                        item.error = exc
                        continue
                    # The UNIQUE index on message_id is the last guard against a twin (another process).
                    self._mark_duplicate(item, message_rows.find_by_whatsapp_id(self.db, item.item.message_id))
                    if item.duplicate_of is None:
                        log.exception("capture %s could not be stored", loggable(item.item.message_id))
                        item.error = exc
                    elif item.conflicts:
                        self._record_conflicts_alone(item)
        now = iso(self.clock.now())
        deferred = False
        for item in batch:
            if item.record is not None:
                deferred = deferred or item.analysis_deferred
                self._notify(item.record, item.analysis, now)
                if item.record["status_change"] is not None:
                    self.bus.publish(events.CUSTOMER_STATUS_CHANGED, item.record["status_change"].event(), now)
            elif item.conflicts and item.error is None:
                _log_conflict(item)
        for item in batch:
            item.written.set()
            item.done.set()
        if deferred and self.analysis_deferred is not None:
            self.analysis_deferred()
        if self.after_capture is not None:
            for item in batch:
                if item.record is not None:
                    self.after_capture(item.record)

    def _refuse_for_disk_full(self, batch: list[_Pending], exc: DiskFull) -> None:
        """No capture-by-capture retry: each would meet the same full disk."""
        refused = 0
        for item in batch:
            item.record = None
            if item.error is None and item.duplicate_of is None:
                item.error = exc
                refused += 1
        log.warning("disk full: %d captures refused, nothing written (%s)", refused, exc)
        if self.on_disk_full is not None:
            self.on_disk_full(exc)

    def _store_in_one_transaction(self, batch: list[_Pending]) -> None:
        now = iso(self.clock.now())
        increments: dict[tuple[str, str], float] = defaultdict(float)
        with self.db.transaction():
            new = [item for item in batch if item.error is None and item.duplicate_of is None]
            if len(new) > 1 and all(item.item.customer.merge_from is None for item in new):
                self._store_many(new, now)  # set-based: the same rows as _store message after message
            for item in batch:
                if item.error is None and item.duplicate_of is None:
                    if item.record is None:
                        item.record = self._store(item, now)
                    if item.analysis is not None:  # else the backfill applies it with the analysis
                        # The customer's status from this message's evidence, in the same transaction.
                        item.record["status_change"] = apply_evidence(self.db, item.record, item.analysis, now)
                elif item.error is None and item.conflicts:
                    self._record_conflicts(item, now)
                if item.record is None:  # a replay or a failed item: nothing new to count
                    continue
                hour = hour_bucket(item.item.sent)
                for name, value in self._metric_increments(item.item, item.record, item.analysis):
                    increments[(hour, name)] += value
            metric_rows.add_many(self.db, increments)

    def _store(self, pending: _Pending, now: str) -> dict[str, Any]:
        item, customer = pending.item, pending.item.customer
        language, analysis = pending.language, pending.analysis
        key = self._customer_key_for_write(customer, now)
        customer_id, new_customer = customer_rows.upsert_customer_on_message(
            self.db, phone=key, kind=customer.kind, name=customer.name, language=language,
            direction=item.direction, sent_at=item.sent_at, now=now)
        if customer.merge_from is not None:
            customer_rows.remember_merged_key(self.db, customer.merge_from, customer_id, now)
        owner_id = customer_id
        if item.owner is not None:
            owner_id = customer_rows.ensure_customer(self.db, key=item.owner.key, kind=item.owner.kind,
                                                     name=item.owner.name, now=now)
        conversation_id, answered_since = customer_rows.upsert_conversation_on_message(
            self.db, chat_id=item.chat_id, customer_id=owner_id, direction=item.direction,
            sent_at=item.sent_at, now=now)
        response_time = _seconds_between(answered_since, item.sent_at) if answered_since else None
        message_pk = message_rows.insert_message(self.db, {
            "message_id": item.message_id, "conversation_id": conversation_id, "customer_id": customer_id,
            "direction": item.direction, "type": item.type, "content": item.content,
            "language": language, "media_url": item.media_url,
            "raw": orjson.dumps(item.raw).decode() if item.raw is not None else None,
            "sent_at": item.sent_at, "response_time_s": response_time, "now": now})
        analysis_pk = message_rows.insert_analysis(self.db, message_pk, analysis, now) if analysis is not None else None
        return {"id": message_pk, "message_id": item.message_id, "conversation_id": conversation_id,
                "customer_id": customer_id, "customer_phone": key, "customer_kind": customer.kind,
                "customer_name": customer.name, "chat_id": item.chat_id,
                "direction": item.direction, "type": item.type, "content": item.content,
                "language": language, "sent_at": item.sent_at, "response_time_s": response_time,
                "new_customer": new_customer, "analysis_id": analysis_pk, "latest_of_chat": pending.latest_of_chat,
                "in_group": item.owner is not None, "status_change": None, "window": pending.window,
                "sentiment": analysis["sentiment"]["label"] if analysis is not None else None,
                "intent": analysis["intent"]["label"] if analysis is not None else None}

    def _store_many(self, batch: list[_Pending], now: str) -> None:
        """_store for several new messages at once: one upsert per distinct customer and per conversation, one
        executemany for the messages and one for the analyses; sets each item's record (its status evidence is
        applied by the caller, in batch order, as for _store).

        Only for a batch without a @lid merge: a merge moves rows that later messages of the batch may write to,
        so such a batch takes the message-by-message path."""
        keys: list[str] = []
        aliases: dict[str, str] = {}
        for pending in batch:
            customer = pending.item.customer
            if customer.kind == "lid" and customer.key not in aliases:
                aliases[customer.key] = customer_rows.aliased_key(self.db, customer.key) or customer.key
            keys.append(aliases.get(customer.key, customer.key))
        owners: dict[str, int] = {}
        # A group's pseudo-customer first: whichever of its inbound (ensure) or outbound (upsert) messages comes
        # first, the row ends as _store leaves it, and its first outbound message counts it new as there.
        for pending in batch:
            owner = pending.item.owner
            if owner is not None and owner.key not in owners:
                owners[owner.key] = customer_rows.ensure_customer(self.db, key=owner.key, kind=owner.kind,
                                                                  name=owner.name, now=now)
        touches: dict[str, customer_rows.CustomerTouch] = {}
        for pending, key in zip(batch, keys, strict=True):
            item = pending.item
            touch = touches.setdefault(key, customer_rows.CustomerTouch(key, item.customer.kind))
            touch.add(name=item.customer.name, language=pending.language, direction=item.direction,
                      sent_at=item.sent_at)
        customers = customer_rows.upsert_customers_on_messages(self.db, list(touches.values()), now)
        chats: dict[str, tuple[int, list[tuple[str, str]]]] = {}
        for pending, key in zip(batch, keys, strict=True):
            item = pending.item
            owner_id = owners[item.owner.key] if item.owner is not None else customers[key][0]
            chats.setdefault(item.chat_id, (owner_id, []))[1].append((item.direction, item.sent_at))
        conversations = customer_rows.upsert_conversations_on_messages(self.db, chats, now)
        waits = {chat_id: iter(answered) for chat_id, (_, answered) in conversations.items()}
        first_of_customer: set[str] = set()
        rows = []
        for pending, key in zip(batch, keys, strict=True):
            item = pending.item
            answered_since = next(waits[item.chat_id])
            new_customer = key not in first_of_customer and customers[key][1] == 0
            first_of_customer.add(key)
            rows.append({
                "message_id": item.message_id, "conversation_id": conversations[item.chat_id][0],
                "customer_id": customers[key][0], "direction": item.direction, "type": item.type,
                "content": item.content, "language": pending.language, "media_url": item.media_url,
                "raw": orjson.dumps(item.raw).decode() if item.raw is not None else None, "sent_at": item.sent_at,
                "response_time_s": _seconds_between(answered_since, item.sent_at) if answered_since else None,
                "now": now, "new_customer": new_customer})
        ids = message_rows.insert_messages(self.db, rows)
        analysed = [(ids[p.item.message_id], p.analysis) for p in batch if p.analysis is not None]
        message_rows.insert_analyses(self.db, analysed, now)
        analysis_ids = message_rows.latest_analysis_ids(self.db, [pk for pk, _ in analysed])
        for pending, key, row in zip(batch, keys, rows, strict=True):
            item, analysis, message_pk = pending.item, pending.analysis, ids[pending.item.message_id]
            pending.record = {
                "id": message_pk, "message_id": item.message_id, "conversation_id": row["conversation_id"],
                "customer_id": row["customer_id"], "customer_phone": key, "customer_kind": item.customer.kind,
                "customer_name": item.customer.name, "chat_id": item.chat_id, "direction": item.direction,
                "type": item.type, "content": item.content, "language": pending.language, "sent_at": item.sent_at,
                "response_time_s": row["response_time_s"], "new_customer": row["new_customer"],
                "analysis_id": analysis_ids.get(message_pk), "latest_of_chat": pending.latest_of_chat,
                "in_group": item.owner is not None, "status_change": None, "window": pending.window,
                "sentiment": analysis["sentiment"]["label"] if analysis is not None else None,
                "intent": analysis["intent"]["label"] if analysis is not None else None}

    def _customer_key_for_write(self, customer: CustomerRef, now: str) -> str:
        """The key to upsert: a phone customer first absorbs its @lid customer; a @lid key already merged
        into a phone customer writes to that one."""
        if customer.merge_from is not None:
            customer_rows.merge_customer(self.db, source_key=customer.merge_from, target_key=customer.key,
                                         target_kind=customer.kind, now=now)
            return customer.key
        if customer.kind == "lid":
            return customer_rows.aliased_key(self.db, customer.key) or customer.key
        return customer.key

    @staticmethod
    def _metric_increments(item: CaptureItem, record: dict[str, Any],
                           analysis: dict[str, Any] | None) -> list[tuple[str, float]]:
        increments: list[tuple[str, float]] = [("messages", 1), (f"direction.{item.direction}", 1)]
        if item.direction == "in" and analysis is not None:  # a deferred analysis counts when the backfill writes it
            increments += [(f"sentiment.{analysis['sentiment']['label']}", 1),
                           (f"intent.{analysis['intent']['label']}", 1)]
        if record["new_customer"] and record["customer_kind"] != "group":  # a group is not a new customer
            increments.append(("new_customers", 1))
        if record["response_time_s"] is not None:
            increments += [("response_time_sum", record["response_time_s"]), ("response_count", 1)]
        return increments

    # -- after commit -----------------------------------------------------------------------------

    def _notify(self, record: dict[str, Any], analysis: dict[str, Any] | None, now: str) -> None:
        # chat_id lets the extension's panel refresh the chat it shows.
        summary = {k: record[k] for k in ("id", "message_id", "chat_id", "conversation_id", "customer_id",
                                          "customer_phone", "customer_kind", "customer_name", "direction", "type",
                                          "sent_at", "language")}
        summary["preview"] = record["content"][:200]
        self.bus.publish(events.MESSAGE_CAPTURED, summary, now)
        if analysis is None:  # deferred: the backfill stores it without an event per message of an import
            return
        self.bus.publish(events.ANALYSIS_COMPLETED, {"message_id": record["id"], "conversation_id":
                                                     record["conversation_id"], "analysis": analysis}, now)

    @staticmethod
    def _created_response(record: dict[str, Any], analysis: dict[str, Any] | None,
                          deferred: bool = False) -> dict[str, Any]:
        answer = {"id": record["id"], "conversation_id": record["conversation_id"],
                  "customer_id": record["customer_id"], "duplicate": False, "conflict": False, "analysis": analysis}
        if deferred:
            answer["analysis_pending"] = True
        return answer

    def _duplicate_response(self, stored: dict[str, Any], conflict: bool) -> dict[str, Any]:
        analysis = message_rows.latest_analysis(self.db, stored["id"])
        if analysis is not None:
            analysis.pop("id", None)
            analysis.pop("created_at", None)
        answer = {"id": stored["id"], "conversation_id": stored["conversation_id"],
                  "customer_id": stored["customer_id"], "duplicate": True, "conflict": conflict, "analysis": analysis}
        if analysis is None:  # stored by a history import, its analysis not written yet
            answer["analysis_pending"] = True
        return answer


def one_batch_at_a_time(
        analyse_batch: Callable[[list[AnalysisItem]], list[AnalysisResult | BaseException]],
) -> Callable[[list[AnalysisItem]], list[AnalysisResult | BaseException]]:
    """analyse_batch for two callers (the group commit's leader and the analysis backfill): the rules worker
    answers one batch at a time over its one pipe, so their batches take turns."""
    lock = threading.Lock()

    def analyse(items: list[AnalysisItem]) -> list[AnalysisResult | BaseException]:
        with lock:
            return analyse_batch(items)

    return analyse


def _log_conflict(pending: _Pending) -> None:
    """One line, no traceback: a changed replay is data to look at, not a failure of the service."""
    log.warning("capture %s replayed with a different %s: the stored message is kept, the conflict recorded",
                loggable(pending.item.message_id), ", ".join(name for name, _ in pending.conflicts))


def _mark_the_latest_inbound_of_each_chat(batch: list[_Pending]) -> None:
    newest: dict[str, _Pending] = {}
    for pending in batch:
        if pending.item.direction != "in":
            continue
        current = newest.get(pending.item.chat_id)
        if current is None or pending.item.sent >= current.item.sent:
            newest[pending.item.chat_id] = pending
        pending.latest_of_chat = False
    for pending in newest.values():
        pending.latest_of_chat = True


def _seconds_between(start_iso: str, end_iso: str) -> float:
    """In the stored (millisecond) form on both sides, as the response times were always computed."""
    return max(0.0, (parse_iso(end_iso) - parse_iso(start_iso)).total_seconds())
