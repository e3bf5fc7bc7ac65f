"""A capture batch's analysis work: one AnalysisItem per message in, one AnalysisResult per message out.

The service analyses a group commit's messages in one call, in-process or in the rules worker
(ai/rules_worker.py). Only that process boundary sees the wire form (to_wire/from_wire below): JSON arrays
[text, language or null, customer name or null, direction, message type, window] and [language or null,
analysis]. The window is the conversation's earlier messages, [[direction, text, intent or null], ...] oldest
first (at most ai.analysis.WINDOW_MESSAGES, each text cut to WINDOW_TEXT_CHARS), [] when there are none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai.analysis import AnalysisContext, Analyzer, PreviousMessage


@dataclass(frozen=True, slots=True)
class AnalysisItem:
    text: str
    language: str | None  # None: detect it from the text
    name: str | None  # the customer's name, for the analysis context
    direction: str  # "in" or "out"
    type: str  # the message type: text, image ...
    previous: tuple[PreviousMessage, ...] = ()  # the conversation window, oldest first

    def to_wire(self) -> list[Any]:
        return [self.text, self.language, self.name, self.direction, self.type,
                [message.to_wire() for message in self.previous]]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> AnalysisItem:
        text, language, name, direction, message_type, previous = wire
        return cls(text, language, name, direction, message_type,
                   tuple(PreviousMessage.from_wire(message) for message in previous))

    def context(self) -> AnalysisContext:
        return AnalysisContext(customer_name=self.name, direction=self.direction, message_type=self.type,
                               previous=self.previous)


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    language: str | None  # detected (None for an empty text)
    analysis: dict[str, Any]

    def to_wire(self) -> list[Any]:
        return [self.language, self.analysis]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> AnalysisResult:
        language, analysis = wire
        if not isinstance(analysis, dict):
            raise ValueError("an analysis result must carry an object")
        return cls(language, analysis)


def analyse_items(analyzer: Analyzer, items: list[AnalysisItem]) -> list[AnalysisResult]:
    """The language of each text and its analysis, the same in the service and in the rules worker."""
    from ai.language import detect_language

    results = []
    for item in items:
        language = item.language or (detect_language(item.text) if item.text.strip() else None)
        results.append(AnalysisResult(language, analyzer.analyse(item.text, language, item.context()).to_dict()))
    return results
