"""The conversation window an analysis reads: the last few messages of the same chat, both directions.

At most ai.analysis.WINDOW_MESSAGES messages sent within WINDOW_MINUTES before the analysed one: a short
reply ("sim", "não quero mais") is read against what was just said, not against yesterday's talk. A capture
batch's windows come from one indexed query for all its chats (storage/messages.py window_rows), and the
batch's own earlier messages of a chat count too (a history import, or a reply that arrives with the question
it answers).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Protocol

from ai.analysis import WINDOW_MESSAGES, WINDOW_MINUTES, WINDOW_TEXT_CHARS, PreviousMessage
from core.clock import iso
from storage import messages as message_rows
from storage.database import Database

WINDOW = timedelta(minutes=WINDOW_MINUTES)
# Rows one batch's query may read: a busy group chat must not make a capture read thousands of messages.
MAX_WINDOW_ROWS = 500

Window = tuple[PreviousMessage, ...]


class WindowItem(Protocol):
    """What a window needs of a capture (crm/capture.py CaptureItem has these attributes)."""

    chat_id: str
    direction: str
    content: str
    sent: datetime
    sent_at: str


def capture_windows(db: Database, items: list[WindowItem]) -> list[Window]:
    """The window of each item, in order: stored messages and the batch's earlier items of the same chat."""
    if not items:
        return []
    since = iso(min(item.sent for item in items) - WINDOW)
    until = max(item.sent_at for item in items)
    rows = message_rows.window_rows(db, sorted({item.chat_id for item in items}), since, until, MAX_WINDOW_ROWS)
    # (sent_at, order, message) per chat: stored rows first at equal times, then the batch in its order.
    timeline: dict[str, list[tuple[str, int, PreviousMessage]]] = defaultdict(list)
    for row in rows:
        timeline[row["chat_id"]].append((row["sent_at"], -1, _previous(row["direction"], row["content"],
                                                                        row["intent"])))
    for index, item in enumerate(items):
        timeline[item.chat_id].append((item.sent_at, index, _previous(item.direction, item.content, None)))
    for entries in timeline.values():
        entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [_window_before(timeline[item.chat_id], item, index) for index, item in enumerate(items)]


def _window_before(entries: list[tuple[str, int, PreviousMessage]], item: WindowItem, index: int) -> Window:
    earliest = iso(item.sent - WINDOW)
    earlier = [message for sent_at, order, message in entries
               if earliest <= sent_at and (sent_at, order) < (item.sent_at, index) and order != index]
    return tuple(earlier[-WINDOW_MESSAGES:])


def stored_window(db: Database, chat_id: str, before: datetime, exclude_message_pk: int | None = None) -> Window:
    """The window of a message sent at `before` in this chat, from stored messages only (the analysis API)."""
    rows = message_rows.window_rows(db, [chat_id], iso(before - WINDOW), iso(before), WINDOW_MESSAGES + 1)
    messages = [_previous(r["direction"], r["content"], r["intent"]) for r in rows if r["id"] != exclude_message_pk]
    return tuple(messages[-WINDOW_MESSAGES:])


def _previous(direction: str, text: str, intent: str | None) -> PreviousMessage:
    return PreviousMessage(direction, (text or "")[:WINDOW_TEXT_CHARS], intent)
