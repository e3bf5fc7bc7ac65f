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


@dataclass(frozen=True)
class AnalysisContext:
    """What the pipeline knows about the message besides its text (used to personalise replies)."""

    customer_name: str | None = None
    order_number: str | None = None
    direction: str = "in"
    message_type: str = "text"


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
        }


class Analyzer(Protocol):
    """An analysis engine. Implementations must be safe to call from any greenlet/thread."""

    name: str
    model_version: str

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        """Analyse one message. language is 'pt', 'en', 'es' or None (detect)."""
        ...
