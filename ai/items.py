"""A capture batch's analysis work: one AnalysisItem per message in, one AnalysisResult per message out.

The service analyses a group commit's messages in one call, in-process or in the rules worker
(ai/rules_worker.py). Only that process boundary sees the wire form (to_wire/from_wire below): JSON arrays
[text, language or null, customer name or null, direction, message type] and [language or null, analysis].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai.analysis import AnalysisContext, Analyzer


@dataclass(frozen=True, slots=True)
class AnalysisItem:
    text: str
    language: str | None  # None: detect it from the text
    name: str | None  # the customer's name, for the analysis context
    direction: str  # "in" or "out"
    type: str  # the message type: text, image ...

    def to_wire(self) -> list[Any]:
        return [self.text, self.language, self.name, self.direction, self.type]

    @classmethod
    def from_wire(cls, wire: list[Any]) -> AnalysisItem:
        text, language, name, direction, message_type = wire
        return cls(text, language, name, direction, message_type)


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
        context = AnalysisContext(customer_name=item.name, direction=item.direction, message_type=item.type)
        results.append(AnalysisResult(language, analyzer.analyse(item.text, language, context).to_dict()))
    return results
