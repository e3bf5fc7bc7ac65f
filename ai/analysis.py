"""The analysis shape every engine returns, and the interface engines implement.

The same dict shape is stored in the ai_analysis table, returned by the API and pushed over the
WebSocket, so it is defined once here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
        data = asdict(self)
        return {
            "sentiment": {"label": data["sentiment_label"], "score": round(data["sentiment_score"], 4)},
            "intent": {"label": data["intent_label"], "confidence": round(data["intent_confidence"], 4)},
            "suggested_responses": data["suggested_responses"],
            "confidence_scores": {k: round(v, 4) for k, v in data["confidence_scores"].items()},
            "model_version": data["model_version"],
            "engine": data["engine"],
            "language": data["language"],
            "latency_ms": round(data["latency_ms"], 3),
        }


class Analyzer(Protocol):
    """An analysis engine. Implementations must be safe to call from any greenlet/thread."""

    name: str
    model_version: str

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        """Analyse one message. language is 'pt', 'en', 'es' or None (detect)."""
        ...
