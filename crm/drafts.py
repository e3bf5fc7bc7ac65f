"""'Draft with AI': an LLM reply to a stored customer message, grounded in the knowledge base and the conversation,
streamed over the WebSocket to the principal that asked. Never sent: it is only text for the seller to edit.

Flow: POST /api/replies/draft -> start_draft() gathers the message, the conversation's last HISTORY_MESSAGES
messages, the customer's name and the matching knowledge (knowledge_for_draft: the retrieval of the grounded
suggestions), builds the prompt (ai/draft_prompt.py) and hands it to Drafts, which queues it on the AI worker
(ai/worker_client.py submit_draft) and publishes reply.draft.* events addressed to the asking principal only
(core/events.py audience = Principal.rate_key).

Limits: one draft per principal (a new one cancels the old: the seller asked again), ai.max_drafts running or
waiting in all (429 draft_busy past that); the worker runs one job at a time, drafts before background analyses.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ai.draft_prompt import Fact, Turn, build_draft_prompt
from ai.knowledge.index import KnowledgeMatch
from ai.language import detect_language
from ai.llm.model import configured_model_name
from ai.worker_client import AiWorkerClient, AiWorkerError, DraftJob
from core import events
from core.config import Config
from crm.grounding import Grounding
from storage import messages as message_rows
from storage.database import Database

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 6  # earlier messages of the conversation in the prompt, both directions, oldest dropped first
KNOWLEDGE_LIMIT = 3
# The backstop past the draft's own deadline after which the client restarts a stuck worker (the model may also
# have to load first: the client's load timeout covers that separately).
WORKER_MARGIN_S = 30.0
MODEL_TEST_TEXT = "Oi! Quanto é o frete para BH e em quantos dias chega?"
MODEL_TEST_FACTS = [Fact("Frete para BH", "O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis.")]
MODEL_TEST_MAX_TOKENS = 32
LLM_DISABLED_MESSAGE = ("the local LLM is off: set ai.llm_enabled to true and ai.engine to auto or llm (Settings > "
                        "AI, or `agent.py config set ai.llm_enabled true`), then restart the service")

Publish = Callable[[str, dict[str, Any], str], None]  # (event type, data, audience)


class DraftRefused(Exception):
    """A draft cannot start; the API answers status with code (api/routes/drafts.py)."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class DraftSettings:
    max_tokens: int
    timeout_s: float
    max_drafts: int
    n_ctx: int
    temperature: float
    model: str

    @classmethod
    def from_config(cls, config: Config) -> DraftSettings:
        return cls(max_tokens=config["ai.draft_max_tokens"], timeout_s=float(config["ai.draft_timeout_s"]),
                   max_drafts=config["ai.max_drafts"], n_ctx=config["ai.n_ctx"],
                   temperature=float(config["ai.temperature"]), model=configured_model_name(config["ai.model_path"]))


@dataclass
class _Draft:
    draft_id: str
    owner: str  # Principal.rate_key: the events' audience, and who may cancel it
    message_id: int
    job: DraftJob | None = None
    sent: str = ""  # the text published so far (the concatenation of the token events)
    cancel_requested: bool = False


class Drafts:
    """The running drafts: per owner, capped, each streamed to its owner's sessions."""

    def __init__(self, worker: AiWorkerClient | None, settings: DraftSettings, publish: Publish) -> None:
        self.worker = worker
        self.settings = settings
        self.publish = publish
        self._lock = threading.Lock()
        self._running: dict[str, _Draft] = {}
        self._by_owner: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self.worker is not None

    def check_enabled(self) -> AiWorkerClient:
        if self.worker is None:
            raise DraftRefused(409, "llm_disabled", LLM_DISABLED_MESSAGE)
        return self.worker

    def start(self, owner: str, message_id: int, prompt: dict[str, Any]) -> str:
        """Queue a draft for owner (cancelling owner's previous one); its id. Raises DraftRefused."""
        worker = self.check_enabled()
        previous = self._by_owner.get(owner)
        if previous is not None:
            self.cancel(owner, previous)
        with self._lock:
            if len(self._running) >= self.settings.max_drafts:
                raise DraftRefused(429, "draft_busy", f"{self.settings.max_drafts} drafts are already running or "
                                   "waiting; retry in a few seconds", retry_after_s=5)
            draft = _Draft(secrets.token_urlsafe(12), owner, message_id)
            self._running[draft.draft_id] = draft
            self._by_owner[owner] = draft.draft_id
        self._publish(draft, events.REPLY_DRAFT_STARTED, {"message_id": message_id, "model": self.settings.model})
        payload = {**prompt, "max_tokens": self.settings.max_tokens, "deadline_s": self.settings.timeout_s,
                   "temperature": self.settings.temperature}
        try:
            draft.job = worker.submit_draft(payload, lambda text: self._on_piece(draft, text),
                                            self.settings.timeout_s + WORKER_MARGIN_S)
        except AiWorkerError as exc:
            self._forget(draft)
            self._publish(draft, events.REPLY_DRAFT_FAILED, {"error": str(exc)})
            raise DraftRefused(503, "llm_unavailable", f"the local LLM cannot take a draft now: {exc}",
                               retry_after_s=5) from None
        draft.job.future.add_done_callback(lambda future: self._finished(draft, future))
        return draft.draft_id

    def cancel(self, owner: str, draft_id: str) -> bool:
        """Stop owner's running draft; False when owner has no such draft (unknown, finished or someone else's).
        reply.draft.cancelled follows, and no completed."""
        with self._lock:
            draft = self._running.get(draft_id)
            if draft is None or draft.owner != owner or draft.cancel_requested:
                return False
            draft.cancel_requested = True
        if draft.job is not None:
            draft.job.cancel()
        return True

    def running(self) -> int:
        return len(self._running)

    def model_test(self) -> dict[str, Any]:
        """A short draft with the current model, waited for: time to first token and tokens/s."""
        worker = self.check_enabled()
        prompt = build_draft_prompt(MODEL_TEST_TEXT, "pt", "Ana", MODEL_TEST_FACTS, [], self.settings.n_ctx,
                                    MODEL_TEST_MAX_TOKENS)
        payload = {**prompt.to_wire(), "max_tokens": MODEL_TEST_MAX_TOKENS, "deadline_s": self.settings.timeout_s,
                   "temperature": self.settings.temperature}
        try:
            job = worker.submit_draft(payload, lambda _text: None, self.settings.timeout_s + WORKER_MARGIN_S)
            result = job.future.result()
        except AiWorkerError as exc:
            raise DraftRefused(503, "llm_unavailable", f"the local LLM could not answer: {exc}") from None
        return {"model": result["model"], "ttft_ms": result["ttft_ms"], "tokens_per_s": result["tokens_per_s"],
                "tokens": result["tokens"], "text": result["text"], "chat_template": result["chat_template"]}

    # -- the worker's side (its dispatcher thread) ----------------------------------------------------

    def _on_piece(self, draft: _Draft, text: str) -> None:
        if draft.cancel_requested:
            return
        if not draft.sent:
            text = text.lstrip()  # the reply's leading space or newline is not part of it
            if not text:
                return
        draft.sent += text
        self._publish(draft, events.REPLY_DRAFT_TOKEN, {"text": text})

    def _finished(self, draft: _Draft, future: Any) -> None:
        self._forget(draft)
        if future.cancelled() or draft.cancel_requested:
            self._publish(draft, events.REPLY_DRAFT_CANCELLED, {})
            return
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - the worker's failure is the draft's failure, said to its owner
            log.info("draft %s failed: %s", draft.draft_id, exc)
            self._publish(draft, events.REPLY_DRAFT_FAILED, {"error": str(exc)})
            return
        if result.get("stopped") == "cancelled":
            self._publish(draft, events.REPLY_DRAFT_CANCELLED, {})
            return
        self._publish(draft, events.REPLY_DRAFT_COMPLETED, {
            "message_id": draft.message_id, "text": draft.sent, "tokens": result["tokens"],
            "ttft_ms": result["ttft_ms"], "tokens_per_s": result["tokens_per_s"], "stopped": result["stopped"]})

    def _forget(self, draft: _Draft) -> None:
        with self._lock:
            self._running.pop(draft.draft_id, None)
            if self._by_owner.get(draft.owner) == draft.draft_id:
                del self._by_owner[draft.owner]

    def _publish(self, draft: _Draft, event_type: str, data: dict[str, Any]) -> None:
        self.publish(event_type, {"draft_id": draft.draft_id, **data}, draft.owner)


# -- gathering what the prompt holds ------------------------------------------------------------------


class DraftSources(Protocol):
    """What start_draft reads from the Service (a Protocol: crm.service imports this module)."""

    db: Database
    drafts: Drafts
    grounding: Grounding


def knowledge_for_draft(service: DraftSources, text: str, language: str | None) -> list[KnowledgeMatch]:
    """The knowledge entries a draft should use, best first (at most KNOWLEDGE_LIMIT): the same retrieval as the
    grounded suggestions (crm/grounding.py), so a draft states the facts the first suggestion showed."""
    return service.grounding.matches(text, language, limit=KNOWLEDGE_LIMIT)


def conversation_before(db: Database, message: dict[str, Any], limit: int = HISTORY_MESSAGES) -> list[Turn]:
    """The conversation's last `limit` messages before `message`, oldest first."""
    rows = message_rows.list_messages(db, conversation_id=message["conversation_id"], customer_id=None, since=None,
                                      until=message["sent_at"], direction=None, search=None, sentiment=None,
                                      intent=None, limit=limit).rows
    return [Turn(row["direction"], row["content"] or "") for row in reversed(rows) if row["id"] != message["id"]]


def start_draft(service: DraftSources, owner: str, message_id: int) -> dict[str, Any]:
    """POST /api/replies/draft: {"draft_id", "message_id", "knowledge": [entry ids]}. Raises DraftRefused."""
    service.drafts.check_enabled()  # 409 before any work when the LLM is off
    message = message_rows.get_message(service.db, message_id)
    if message is None:
        raise DraftRefused(404, "not_found", "message not found")
    text = (message["content"] or "").strip()
    if not text:
        raise DraftRefused(422, "no_text", "the message has no text to answer (a media message without a caption)")
    language = message["language"] or detect_language(text)
    entries = knowledge_for_draft(service, text, language)
    facts = [Fact(entry.title, entry.content) for entry in entries]
    prompt = build_draft_prompt(text, language, message["customer_name"], facts,
                                conversation_before(service.db, message), service.drafts.settings.n_ctx,
                                service.drafts.settings.max_tokens)
    draft_id = service.drafts.start(owner, message_id, prompt.to_wire())
    return {"draft_id": draft_id, "message_id": message_id,
            "knowledge": [entry.entry_id for entry in entries[:prompt.facts_used]]}
