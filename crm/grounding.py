"""Grounding: the service's knowledge index, kept in step with the knowledge table, applied to analyses.

The index (ai/knowledge/index.py) is rebuilt lazily: before answering, one cheap query
(`SELECT COUNT(*), MAX(change_seq) FROM knowledge`) says whether the table changed since the index was built.
Every write takes a new change_seq and a delete lowers the count, so API writes, CSV imports and the team
hub's pulls all count, whichever process or path made them. An index is immutable; a rebuild (a few ms for a
thousand entries) replaces it under a lock, so two callers never build the same version twice.

Applied in the service process to every analysis dict the service hands out (captures, after the rules
worker's results come back; POST /api/analysis/generate; the LLM follow-ups): each gets "knowledge", the
matched entry or None, and a grounded first suggestion when an entry answers the message.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ai.items import AnalysisItem, AnalysisResult
from ai.knowledge.grounded import ground
from ai.knowledge.index import KnowledgeEntry, KnowledgeIndex, KnowledgeMatch
from storage import knowledge as knowledge_rows
from storage.database import Database

log = logging.getLogger(__name__)


def _entry(row: dict[str, Any]) -> KnowledgeEntry:
    return KnowledgeEntry(id=int(row["id"]), title=row["title"] or "", content=row["content"] or "",
                          language=row["language"] or None, tags=tuple(row.get("tags") or ()))


class Grounding:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._index = KnowledgeIndex(())
        self._version: tuple[int, int] | None = None  # (count, max change_seq) the index was built from
        self._lock = threading.Lock()

    def _table_version(self) -> tuple[int, int]:
        row = self.db.one("SELECT COUNT(*) AS n, MAX(change_seq) AS seq FROM knowledge") or {}
        return int(row.get("n") or 0), int(row.get("seq") or 0)

    def index(self) -> KnowledgeIndex:
        """The index of the knowledge table as it is now (rebuilt when the table changed)."""
        version = self._table_version()
        if version == self._version:
            return self._index
        with self._lock:
            if version != self._version:  # another thread may have rebuilt it meanwhile
                self._index = KnowledgeIndex(_entry(row) for row in knowledge_rows.all_entries(self.db))
                self._version = version
                log.info("knowledge index rebuilt: %d entries", len(self._index))
            return self._index

    def matches(self, text: str, language: str | None, limit: int = 3) -> list[KnowledgeMatch]:
        """The entries that answer a message, best first (the draft slice grounds the LLM with these)."""
        return self.index().match(text, language, limit)

    def apply(self, analysis: dict[str, Any], text: str, language: str | None, name: str | None = None,
              direction: str = "in", index: KnowledgeIndex | None = None) -> dict[str, Any]:
        """Ground one analysis dict (changed in place and returned): "knowledge" is always set."""
        return ground(analysis, index if index is not None else self.index(), text, language, name, direction)

    def apply_to_batch(self, items: list[AnalysisItem], results: list[AnalysisResult | BaseException]) -> None:
        """Ground a capture batch's results (one index check for the whole batch)."""
        index = self.index()
        for item, result in zip(items, results, strict=True):
            if isinstance(result, AnalysisResult):
                self.apply(result.analysis, item.text, result.language, item.name, item.direction, index)
