"""Which engine answers: the built-in analyzer at once, the LLM worker when asked or as a follow-up.

Policy (ai.engine):
- rules: the built-in analyzer only; the LLM worker is never started.
- auto (default): captures are answered at once with the built-in analysis; for inbound text messages the
  LLM analysis follows asynchronously, is stored with its model_version and pushed as analysis.completed.
  /api/analysis/generate with engine=auto uses the LLM when its worker is ready, else the built-in
  analyzer (and warms the worker up for next time).
- llm: /api/analysis/generate and captures wait for the LLM analysis.
Whenever the LLM cannot answer (worker crashed, timed out, model missing) the built-in analysis is
returned, marked with "fallback" and the reason; a full LLM queue is backpressure (AnalysisBusy, 429).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ai.analysis import AnalysisContext, Analyzer
from ai.items import AnalysisItem, AnalysisResult, analyse_items
from ai.language import detect_language
from ai.rules_client import RulesWorkerClient
from ai.worker_client import AiWorkerClient, AiWorkerError, QueueFull
from core import events
from core.clock import Clock, iso
from core.events import EventBus
from storage import messages as message_rows
from storage.database import Database

log = logging.getLogger(__name__)

READY_STATES = ("ready", "busy")


# (analysis dict, text, language, customer name, direction): sets analysis["knowledge"] (crm/grounding.py).
Ground = Callable[[dict[str, Any], str, str | None, str | None, str], Any]


class AnalysisBusy(Exception):
    """The LLM queue is full: the caller should retry later."""


class AnalysisCoordinator:
    def __init__(self, rules: Analyzer, worker: AiWorkerClient | None, policy: str, db: Database,
                 bus: EventBus, clock: Clock, rules_worker: RulesWorkerClient | None = None,
                 ground: Ground | None = None) -> None:
        self.rules = rules
        self.worker = worker
        self.policy = policy if worker is not None else "rules"
        self.db = db
        self.bus = bus
        self.clock = clock
        self.follow_ups_dropped = 0
        # The built-in analysis of capture batches in a process of its own (None: in this process).
        self.rules_worker = rules_worker
        # Grounds an analysis dict in the knowledge base (crm/grounding.py Grounding.apply); None: not grounded.
        self.ground = ground
        if worker is not None:
            worker.on_state_change(self._publish_state)

    # -- answering a request ----------------------------------------------------------------------

    def analyse(self, text: str, language: str | None, context: AnalysisContext,
                engine: str = "auto") -> dict[str, Any]:
        """One analysis with the requested engine (auto|rules|llm), falling back to the built-in one; grounded."""
        analysis = self._analyse_with(text, language, context, engine)
        if self.ground is not None:
            self.ground(analysis, text, language, context.customer_name, context.direction)
        return analysis

    def _analyse_with(self, text: str, language: str | None, context: AnalysisContext,
                      engine: str) -> dict[str, Any]:
        if engine == "rules" or self.worker is None:
            return self.rules.analyse(text, language, context).to_dict()
        if engine == "auto" and self.worker.state not in READY_STATES:
            self._warm_up()
            return self.rules.analyse(text, language, context).to_dict()
        return self._llm_or_fallback(text, language, context)

    def analyse_capture_batch(self, items: list[AnalysisItem]) -> list[AnalysisResult | BaseException]:
        """One result per item, in order (or the exception that item's capture answers).

        The built-in analysis runs in the rules worker process when the service has one, else here; with
        ai.engine = llm each message waits for the LLM instead.
        """
        if self.policy != "llm":
            if self.rules_worker is not None:
                return self.rules_worker.analyse(items)  # type: ignore[return-value]
            return analyse_items(self.rules, items)  # type: ignore[return-value]
        results: list[AnalysisResult | BaseException] = []
        for item in items:
            text = item.text
            language = item.language or (detect_language(text) if text.strip() else None)
            context = AnalysisContext(customer_name=item.name, direction=item.direction, message_type=item.type)
            try:
                if text.strip():
                    results.append(AnalysisResult(language, self._llm_or_fallback(text, language, context)))
                else:
                    results.append(AnalysisResult(language, self.rules.analyse(text, language, context).to_dict()))
            except AnalysisBusy as exc:
                results.append(exc)
        return results

    def _llm_or_fallback(self, text: str, language: str | None, context: AnalysisContext) -> dict[str, Any]:
        try:
            return self.worker.analyse(text, language, context, replies=True)
        except QueueFull:
            raise AnalysisBusy("the LLM queue is full") from None
        except AiWorkerError as exc:
            log.warning("LLM analysis failed (%s); answering with the built-in analyzer", exc)
            result = self.rules.analyse(text, language, context).to_dict()
            result["fallback"] = f"llm unavailable: {exc}"
            return result

    def _warm_up(self) -> None:
        try:
            self.worker.submit("oi", "pt", None, replies=False)
        except AiWorkerError:
            pass

    # -- the asynchronous follow-up after a capture ------------------------------------------------

    def follow_up(self, record: dict[str, Any]) -> None:
        """Queue the LLM analysis of a stored inbound message (policy auto); store and push it when done.

        record["latest_of_chat"] false (an older message of a chat in a batch, crm/capture.py) skips it."""
        if (self.policy != "auto" or record["direction"] != "in" or not record["content"].strip()
                or not record.get("latest_of_chat", True)):
            return
        context = AnalysisContext(customer_name=record.get("customer_name"), direction="in",
                                  message_type=record.get("type", "text"))
        try:
            future = self.worker.submit(record["content"], record.get("language"), context, replies=True)
        except AiWorkerError as exc:  # queue full or shutting down: the built-in analysis stands
            self.follow_ups_dropped += 1
            log.debug("LLM follow-up for message %s skipped: %s", record["id"], exc)
            return
        generation = self.db.generation
        future.add_done_callback(lambda f: self._store_follow_up(record, f, generation))

    def _store_follow_up(self, record: dict[str, Any], future: Any, generation: int) -> None:
        try:
            analysis = future.result()
        except Exception as exc:  # noqa: BLE001 - the built-in analysis stands
            log.info("LLM follow-up for message %s failed: %s", record["id"], exc)
            return
        if generation != self.db.generation:  # a restore replaced the database: that message id is not ours
            log.info("LLM follow-up for message %s dropped: the database was restored meanwhile", record["id"])
            return
        if self.ground is not None:
            self.ground(analysis, record["content"], record.get("language"), record.get("customer_name"), "in")
        now = iso(self.clock.now())
        with self.db.transaction():
            analysis_id = message_rows.insert_analysis(self.db, record["id"], analysis, now)
        self.bus.publish(events.ANALYSIS_COMPLETED, {"message_id": record["id"], "conversation_id":
                                                     record["conversation_id"], "analysis": analysis,
                                                     "analysis_id": analysis_id}, now)

    # -- state ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        rules = self.rules_worker
        rules_status = {"pid": rules.pid, "batches_in_worker": rules.batches_in_worker,
                        "batches_local": rules.batches_local} if rules else None
        if self.worker is None:
            return {"policy": "rules", "state": "off", "llm_enabled": False, "rules_worker": rules_status}
        status = {"policy": self.policy, "llm_enabled": True, **self.worker.status(),
                  "follow_ups_dropped": self.follow_ups_dropped, "rules_worker": rules_status}
        status["degraded"] = status["state"] == "crashed"
        return status

    def _publish_state(self, status: dict[str, Any]) -> None:
        self.bus.publish(events.AI_STATE, dict(status), iso(self.clock.now()))

    def close(self) -> None:
        """Stop both helper processes quickly: the whole service must stop well within the tray's 5 s."""
        if self.rules_worker is not None:
            self.rules_worker.close(grace_s=1.0)
        if self.worker is not None:
            self.worker.shutdown(timeout_s=0.5, grace_s=1.0)


def make_worker(config: Any, data_dir: str,
                command: Callable[[str, Any], list[str]] | None = None) -> AiWorkerClient | None:
    """The LLM worker client, or None when ai.llm_enabled is false or ai.engine is rules."""
    if not config["ai.llm_enabled"] or config["ai.engine"] == "rules":
        return None
    from ai.llm.settings import LlmSettings
    from ai.worker_client import worker_command

    settings = LlmSettings.from_config(config)
    argv = (command or worker_command)(data_dir, settings)
    return AiWorkerClient(argv, settings)
