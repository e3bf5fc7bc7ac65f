"""The analysis of a history import's older messages, after the import was answered (docs/decisions.md "History
import: analysis after the answer").

A batch capture (crm/capture.py capture_many) analyses the newest inbound message of each chat at once (the panel,
the negative-message alert and the LLM follow-up read it) and stores the others without an analysis. This job
finds them (a message without an analysis row: durable, so a crash or a restart resumes it; migration 17 indexes
them) and analyses them in chunks through the same analyse_batch (the rules worker process, so the analysis of
one chunk overlaps the next import batch's HTTP and SQL on the other core). Each chunk's transaction writes what
the capture would have written with the analysis: the analysis rows (the trigger of migration 15 copies the
sentiment and intent onto the messages), the detected language, the hourly sentiment and intent counts, and the
customer status from evidence.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ai.analysis import WINDOW_MESSAGES, WINDOW_MINUTES, PreviousMessage
from ai.items import AnalysisItem, AnalysisResult
from core import events
from core.clock import Clock, hour_bucket, iso, parse_iso
from core.events import EventBus
from crm.customer_status import PURCHASE_LOOKBACK, StatusChange, apply_evidence
from storage import customers as customer_rows
from storage import messages as message_rows
from storage import metrics as metric_rows
from storage.database import Database, DiskFull

log = logging.getLogger(__name__)

CHUNK = 250  # messages per round: the live capture's own analysis waits at most one chunk's turn in the worker
IDLE_WAIT_S = 5.0  # with nothing pending, look again this often (a capture that defers one wakes the job at once)
FAILURE_WAIT_S = 5.0  # after a failed round or an analysis that refused (the LLM queue full)
# While an import streams in (a batch deferred analyses less than IMPORT_PAUSE_S ago) the backfill waits: its SQL
# and Python run on the service's core, which the import's batches need (bench/capture_batch.py: 2,725 -> 3,936
# acknowledged messages/s), and the analysis then runs at full speed once the import pauses. MAX_YIELD_S bounds
# the wait, so a very long import still sees its history analysed a chunk at a time.
IMPORT_PAUSE_S = 0.3
MAX_YIELD_S = 30.0
WINDOW = timedelta(minutes=WINDOW_MINUTES)
MAX_WINDOW_ROWS = 50_000  # a chunk's window read, bounded for a pathological chat

AnalyseBatch = Callable[[list[AnalysisItem]], list[AnalysisResult | BaseException]]
Ground = Callable[[list[AnalysisItem], list[AnalysisResult | BaseException]], None]


class AnalysisBackfill:
    def __init__(self, db: Database, analyse_batch: AnalyseBatch, bus: EventBus, clock: Clock,
                 ground: Ground | None = None, chunk: int = CHUNK) -> None:
        self.db = db
        self.analyse_batch = analyse_batch  # shared with the capture pipeline (one batch at a time in the worker)
        self.bus = bus
        self.clock = clock
        self.ground = ground
        self.chunk = chunk
        self._wake = threading.Event()  # a gevent event once the service has patched threading
        self._last_deferral = 0.0  # time.monotonic() of the last capture batch that deferred analyses

    def wake(self) -> None:
        """Messages were stored with their analysis pending: start on them once the import pauses."""
        self._last_deferral = time.monotonic()
        self._wake.set()

    def _wait_for_a_pause_in_imports(self) -> None:
        started = time.monotonic()
        while True:
            now = time.monotonic()
            quiet_for = now - self._last_deferral
            if quiet_for >= IMPORT_PAUSE_S or now - started >= MAX_YIELD_S:
                return
            time.sleep(IMPORT_PAUSE_S - quiet_for)

    def pending(self) -> int:
        return message_rows.pending_analysis_count(self.db)

    def run_forever(self) -> None:
        """Analyse pending messages chunk after chunk; wait to be woken (or IDLE_WAIT_S) when there are none."""
        while True:
            self._wait_for_a_pause_in_imports()
            try:
                analysed, refused = self.run_once()
            except DiskFull:  # the health and the disk_full alert say so; no traceback every round
                log.debug("pending analyses wait for disk space")
                analysed, refused = 0, True
            except Exception:
                log.exception("analysis of pending messages failed")
                analysed, refused = 0, True
            if refused:
                self._wake.wait(FAILURE_WAIT_S)
            elif not analysed:
                self._wake.wait(IDLE_WAIT_S)
            self._wake.clear()

    def run_once(self) -> tuple[int, bool]:
        """Analyse the oldest chunk of pending messages. Returns (messages analysed, whether any refused)."""
        generation = self.db.generation
        rows = message_rows.pending_analysis(self.db, self.chunk)
        if not rows:
            return 0, False
        items = [AnalysisItem(row["content"], None, row["customer_name"], row["direction"], row["type"], window)
                 for row, window in zip(rows, self._windows(rows), strict=True)]
        results = self.analyse_batch(items)
        if self.ground is not None:
            self.ground(items, results)
        analysed = [(row, result) for row, result in zip(rows, results, strict=True)
                    if isinstance(result, AnalysisResult)]
        refused = len(analysed) < len(rows)
        if refused:  # AnalysisBusy (ai.engine = llm, queue full): left pending, tried again after a pause
            log.info("%d pending analyses refused; trying again in %.0f s", len(rows) - len(analysed),
                     FAILURE_WAIT_S)
        changes = self._store(analysed, generation)
        now = iso(self.clock.now())
        for change in changes:
            self.bus.publish(events.CUSTOMER_STATUS_CHANGED, change.event(), now)
        return len(analysed), refused

    def _windows(self, rows: list[dict[str, Any]]) -> list[tuple[PreviousMessage, ...]]:
        """Each message's conversation window from the stored messages (pending ones read without intent, as a
        capture batch reads its own earlier items)."""
        since = iso(min(parse_iso(row["sent_at"]) for row in rows) - WINDOW)
        until = max(row["sent_at"] for row in rows)
        stored = message_rows.conversation_rows_between(
            self.db, sorted({row["conversation_id"] for row in rows}), since, until, MAX_WINDOW_ROWS)
        timeline: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for entry in stored:
            timeline[entry["conversation_id"]].append(entry)
        keys = {cid: [(e["sent_at"], e["id"]) for e in entries] for cid, entries in timeline.items()}
        windows = []
        for row in rows:
            entries, order = timeline[row["conversation_id"]], keys.get(row["conversation_id"], [])
            earliest = iso(parse_iso(row["sent_at"]) - WINDOW)
            end = bisect.bisect_left(order, (row["sent_at"], row["id"]))
            start = max(bisect.bisect_left(order, (earliest, -1)), end - WINDOW_MESSAGES)
            windows.append(tuple(PreviousMessage(e["direction"], e["content"] or "", e["intent"])
                                 for e in entries[start:end]))
        return windows

    def _store(self, analysed: list[tuple[dict[str, Any], AnalysisResult]], generation: int) -> list[StatusChange]:
        """One transaction: analyses, languages, hourly counts and status evidence, as the capture writes them."""
        if not analysed:
            return []
        now = iso(self.clock.now())
        changes: list[StatusChange] = []
        with self.db.transaction():
            if generation != self.db.generation:  # a restore replaced the database: these ids are not its messages
                log.info("pending analyses dropped: the database was restored meanwhile")
                return []
            done = message_rows.already_analysed(self.db, [row["id"] for row, _ in analysed])
            analysed = [(row, result) for row, result in analysed if row["id"] not in done]  # analysed meanwhile
            message_rows.insert_analyses(self.db, [(row["id"], result.analysis) for row, result in analysed], now)
            message_rows.set_languages(self.db, [(row["id"], result.language) for row, result in analysed
                                                 if result.language is not None], now)
            customer_rows.fill_languages(self.db, {row["customer_id"]: result.language for row, result in analysed
                                                   if row["direction"] == "in" and result.language is not None},
                                         now)
            increments: dict[tuple[str, str], float] = defaultdict(float)
            for row, result in analysed:
                if row["direction"] != "in":
                    continue
                hour = hour_bucket(parse_iso(row["sent_at"]))
                increments[(hour, f"sentiment.{result.analysis['sentiment']['label']}")] += 1
                increments[(hour, f"intent.{result.analysis['intent']['label']}")] += 1
                change = apply_evidence(self.db, _record(row, result.language), result.analysis, now)
                if change is not None:
                    changes.append(change)
            metric_rows.add_many(self.db, increments)
            changes += self._evidence_completed_by_purchases(analysed, now)
        return changes

    def _evidence_completed_by_purchases(self, analysed: list[tuple[dict[str, Any], AnalysisResult]],
                                         now: str) -> list[StatusChange]:
        """A payment message analysed before the purchase it follows (the import's newest message, analysed at
        capture) was no evidence then: read it again now that the purchase's intent is stored."""
        mine = {row["id"] for row, _ in analysed}
        changes = []
        for row, result in analysed:
            if row["direction"] != "in" or result.analysis["intent"]["label"] != "purchase":
                continue
            until = iso(parse_iso(row["sent_at"]) + PURCHASE_LOOKBACK)
            for later in message_rows.inbound_after(self.db, row["conversation_id"], row["sent_at"], until):
                if later["id"] in mine:
                    continue
                change = apply_evidence(self.db, _record(later, later["language"]),
                                        {"intent": {"label": later["intent"]}}, now)
                if change is not None:
                    changes.append(change)
        return changes


def _record(row: dict[str, Any], language: str | None) -> dict[str, Any]:
    """What crm/customer_status.py reads of a stored message (crm/capture.py's record has the same keys)."""
    return {"id": row["id"], "direction": row["direction"], "customer_kind": row["customer_kind"],
            "in_group": row["chat_id"].endswith("@g.us"), "content": row["content"], "language": language,
            "sent_at": row["sent_at"], "conversation_id": row["conversation_id"],
            "customer_id": row["customer_id"]}
