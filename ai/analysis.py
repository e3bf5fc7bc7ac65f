"""The analysis shape every engine returns, and the interface engines implement.

The same dict shape is stored in the ai_analysis table, returned by the API and pushed over the
WebSocket, so it is defined once here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

SENTIMENT_LABELS = ("positive", "neutral", "negative")
INTENT_LABELS = (
    "greeting",
    "pricing",
    "purchase",
    "order_status",
    "support",
    "complaint",
    "cancellation",
    "payment",
    "scheduling",
    "praise",
    "other",
)
LANGUAGES = ("pt", "en", "es")


# The conversation window an analysis may read (crm/conversation_window.py picks it): at most this many earlier
# messages of the same chat, sent at most this long before the analysed one.
WINDOW_MESSAGES = 4
WINDOW_MINUTES = 30
# Each earlier message's text is cut to this many characters: enough for a seller's question or offer, and it
# keeps the rules worker's frames small.
WINDOW_TEXT_CHARS = 240


@dataclass(frozen=True, slots=True)
class PreviousMessage:
    """One earlier message of the conversation, oldest first in AnalysisContext.previous."""

    direction: str  # "in" (the customer) or "out" (the seller)
    text: str
    intent: str | None = None  # its stored intent label; None: the analyzer reads it from the text

    def to_wire(self) -> list[str | None]:
        return [self.direction, self.text, self.intent]

    @classmethod
    def from_wire(cls, wire: list[str | None]) -> PreviousMessage:
        direction, text, intent = wire
        return cls(str(direction), str(text or "")[:WINDOW_TEXT_CHARS], intent if isinstance(intent, str) else None)


@dataclass(frozen=True)
class AnalysisContext:
    """What the pipeline knows about the message besides its text (used to personalise replies)."""

    customer_name: str | None = None
    order_number: str | None = None
    direction: str = "in"
    message_type: str = "text"
    previous: tuple[PreviousMessage, ...] = ()  # the conversation window, oldest first

    def to_wire(self) -> dict[str, Any]:
        """The JSON form for the LLM worker's jobs (ai/worker.py reads it back with from_wire)."""
        return {"customer_name": self.customer_name, "order_number": self.order_number,
                "direction": self.direction, "message_type": self.message_type,
                "previous": [p.to_wire() for p in self.previous]}

    @classmethod
    def from_wire(cls, wire: dict[str, Any] | None) -> AnalysisContext:
        wire = dict(wire or {})
        previous = tuple(PreviousMessage.from_wire(p) for p in wire.pop("previous", None) or ())
        return cls(**wire, previous=previous)


@dataclass
class Analysis:
    sentiment_label: str  # one of SENTIMENT_LABELS
    sentiment_score: float  # in [-1, 1]
    intent_label: str  # one of INTENT_LABELS (or a configured label)
    intent_confidence: float  # in [0, 1]
    suggested_responses: list[str]
    confidence_scores: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    engine: str = ""
    language: str = "pt"
    latency_ms: float = 0.0
    # Whether earlier messages of the conversation changed the reading, and how many the analysis was given.
    context_used: bool = False
    context_previous: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (API, WebSocket, storage)."""
        # Built field by field: dataclasses.asdict deep-copies and cost more than the analysis itself.
        return {
            "sentiment": {"label": self.sentiment_label, "score": round(self.sentiment_score, 4)},
            "intent": {"label": self.intent_label, "confidence": round(self.intent_confidence, 4)},
            "suggested_responses": list(self.suggested_responses),
            "confidence_scores": {k: round(v, 4) for k, v in self.confidence_scores.items()},
            "model_version": self.model_version,
            "engine": self.engine,
            "language": self.language,
            "latency_ms": round(self.latency_ms, 3),
            "context": {"used": self.context_used, "previous": self.context_previous},
        }


class Analyzer(Protocol):
    """An analysis engine. Implementations must be safe to call from any greenlet/thread."""

    name: str
    model_version: str

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        """Analyse one message. language is 'pt', 'en', 'es' or None (detect)."""
        ...
