"""BuiltinAnalyzer: the always-available rules engine (no model file, ~0.1 ms per message)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

from ai.analysis import LANGUAGES, Analysis, AnalysisContext
from ai.builtin.context import CONTEXT_CONFIDENCE, resolve
from ai.builtin.intents import IntentMatcher
from ai.builtin.normalize import find_order_number, normalize
from ai.builtin.replies import suggest_replies
from ai.builtin.sentiment import THRESHOLD, SentimentScorer
from ai.language import detect_language

MODEL_VERSION = "builtin-1.0"
# How many intents beyond the chosen one are reported in confidence_scores.
TOP_INTENTS = 3
# Intent -> valence nudged into the sentiment: a complaint is negative even when its words are
# not in any lexicon ("veio P em vez de G"), praise positive.
INTENT_SENTIMENT_BIAS = {"complaint": -1.6, "praise": 1.6}
_EMPTY_CONTEXT = AnalysisContext()
_probability = itemgetter(1)


class BuiltinAnalyzer:
    """Lexicon sentiment + weighted multilingual intent cues + templated replies.

    Immutable after construction (compiled regexes and dicts only), so one instance can be shared by
    every greenlet/thread.

    config (optional): {"default_language": "pt", "sentiment_threshold": 0.3,
    "intent_labels": [...] (restrict to a subset of the taxonomy)}.
    """

    name = "rules"
    model_version = MODEL_VERSION

    def __init__(
        self, config: Mapping[str, Any] | None = None, taxonomy: Iterable[str] | None = None
    ) -> None:
        config = dict(config or {})
        self.default_language: str = config.get("default_language", "pt")
        if self.default_language not in LANGUAGES:
            raise ValueError(f"default_language must be one of {LANGUAGES}")
        labels = taxonomy if taxonomy is not None else config.get("intent_labels")
        self._intents = IntentMatcher(labels=labels) if labels is not None else IntentMatcher()
        self._sentiment = SentimentScorer(threshold=float(config.get("sentiment_threshold", THRESHOLD)))

    def analyse(self, text: str, language: str | None, context: AnalysisContext | None = None) -> Analysis:
        """Analyse one message. language is 'pt', 'en', 'es' or None (detect)."""
        started = time.perf_counter()
        context = context or _EMPTY_CONTEXT
        text = text or ""
        if language not in LANGUAGES:
            language = detect_language(text, self.default_language)
        normalized = normalize(text, language)

        # Sentiment first without intent bias: a strongly negative message with no concrete request
        # is classified as a complaint by the intent stage. The raw valence does not depend on the
        # bias, so it is computed once and reused when the intent adds one.
        tokens, joined = normalized.tokens, normalized.joined
        exclamations, is_question, shouting = normalized.exclamations, normalized.is_question, normalized.shouting
        raw = self._sentiment.raw_score(tokens, joined, language)
        sentiment = self._sentiment.finish(raw, exclamations, is_question, shouting)
        intent = self._intents.classify(tokens, joined, sentiment.score)
        intent_label, intent_confidence = intent.label, intent.confidence
        reading = None
        if context.previous:
            reading = resolve(normalized, intent_label, intent_confidence, context.previous, self.intent_of_text)
        if reading is not None and reading.intent in self._intents.labels:
            intent_label, intent_confidence = reading.intent, max(intent_confidence, CONTEXT_CONFIDENCE)
        else:
            reading = None
        bias = INTENT_SENTIMENT_BIAS.get(intent_label, 0.0)
        if bias:
            sentiment = self._sentiment.finish(raw, exclamations, is_question, shouting, bias)

        order_number = context.order_number or find_order_number(text)
        replies = suggest_replies(intent_label, language, context.customer_name, order_number)
        confidence_scores = {f"sentiment.{label}": p for label, p in sentiment.probabilities.items()}
        ranked = sorted(intent.probabilities.items(), key=_probability, reverse=True)
        for label, probability in ranked[:TOP_INTENTS]:
            confidence_scores[f"intent.{label}"] = probability
        confidence_scores[f"intent.{intent_label}"] = intent_confidence
        return Analysis(
            sentiment_label=sentiment.label,
            sentiment_score=max(-1.0, min(1.0, sentiment.score)),
            intent_label=intent_label,
            intent_confidence=max(0.0, min(1.0, intent_confidence)),
            suggested_responses=replies,
            confidence_scores=confidence_scores,
            model_version=self.model_version,
            engine=self.name,
            language=language,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            context_used=reading is not None,
            context_previous=len(context.previous),
        )

    def intent_of_text(self, text: str) -> str:
        """The intent of an earlier message of the conversation read from its text alone (no window)."""
        language = detect_language(text, self.default_language)
        normalized = normalize(text, language)
        return self._intents.classify(normalized.tokens, normalized.joined).label
