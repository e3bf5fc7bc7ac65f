"""The grounded reply: the first suggestion carries the fact of the entry that answers the customer's message.

Entries are written by the seller as the answer itself ("O frete para BH é R$ 15 ..."), so the reply is the
entry's content after the greeting the templates use ("Olá, Ana! O frete para BH é R$ 15 ..."), in the entry's
language. An entry in the customer's language is preferred when one matches; otherwise the best entry answers
in its own language (a Spanish question about an entry only written in Portuguese still gets the fact).

Only inbound messages whose intent is a question the knowledge can answer are grounded: a complaint, a
greeting or praise quoting a word of an entry ("amei o vestido!") gets the templates, never a fact.
"""

from __future__ import annotations

from typing import Any, Protocol

from ai.builtin.replies import greeting
from ai.knowledge.index import KnowledgeMatch

# Intents a fact can answer (bench/README.md "Knowledge retrieval": chosen on the dev half of the questions).
GROUNDED_INTENTS = frozenset({"pricing", "purchase", "order_status", "support", "payment", "scheduling",
                              "other", "cancellation"})
SUGGESTIONS = 3
# A second entry whose confidence is this close to the first's is offered too (the second suggestion): the
# question is ambiguous between them ("quanto é o frete?" with one entry per region), and the seller picks.
SECOND_FACT_RATIO = 0.95


class Retriever(Protocol):
    """ai.knowledge.index.KnowledgeIndex, or another engine measured against it (bench/knowledge_eval.py)."""

    def __len__(self) -> int: ...

    def match(self, text: str, language: str | None, limit: int = 3) -> list[KnowledgeMatch]: ...


def best_for_language(matches: list[KnowledgeMatch], language: str | None) -> KnowledgeMatch | None:
    """The best match in the customer's language (or with no language), else the best match."""
    if not matches:
        return None
    for match in matches:
        if match.language == language:
            return match
    return matches[0]


def grounded_reply(match: KnowledgeMatch, message_language: str | None, name: str | None) -> str:
    """The entry's content after the greeting, in the entry's language (the message's when it has none)."""
    language = match.language or message_language or "pt"
    return f"{greeting(language, name)} {match.content.strip()}"


def knowledge_summary(match: KnowledgeMatch) -> dict[str, Any]:
    """The analysis dict's "knowledge" value."""
    return {"entry_id": match.entry_id, "title": match.title, "score": match.score, "language": match.language}


def ground(analysis: dict[str, Any], index: Retriever, text: str, language: str | None,
           name: str | None = None, direction: str = "in") -> dict[str, Any]:
    """Set analysis["knowledge"] (None when nothing answers) and put the fact first in its suggestions.

    Changes and returns the dict given."""
    analysis["knowledge"] = None
    intent = (analysis.get("intent") or {}).get("label")
    if direction != "in" or intent not in GROUNDED_INTENTS or not text.strip() or not len(index):
        return analysis
    matches = index.match(text, language)
    match = best_for_language(matches, language)
    if match is None:
        return analysis
    facts = [grounded_reply(match, language, name)]
    runner_up = next((m for m in matches if m.entry_id != match.entry_id), None)
    if runner_up is not None and runner_up.score >= SECOND_FACT_RATIO * match.score:
        facts.append(grounded_reply(runner_up, language, name))
    replies = [r for r in analysis.get("suggested_responses") or [] if isinstance(r, str)]
    analysis["suggested_responses"] = [*facts, *replies][:SUGGESTIONS]
    analysis["knowledge"] = knowledge_summary(match)
    return analysis
