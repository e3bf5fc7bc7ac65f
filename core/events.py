"""Live events: their types, and the in-memory bus the service publishes to and WebSocket clients read.

Events carry ids that only grow. They start from the wall clock in milliseconds at boot, so ids keep
growing across service restarts and a client's ?since=<last id> stays meaningful. The bus keeps the last
N events so a reconnecting client receives what it missed; older gaps are reported, not hidden.
The bus itself never blocks: subscribers are callables that must return at once (e.g. a queue's put).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

MESSAGE_CAPTURED = "message.captured"
ANALYSIS_COMPLETED = "analysis.completed"
ALERT_RAISED = "alert.raised"
ALERT_RESOLVED = "alert.resolved"
METRICS_UPDATED = "metrics.updated"
AI_STATE = "ai.state"
CAPTURE_STATE = "capture.state"
SYNC_STATUS = "sync.status"  # after each sync round with the team hub (status as in /api/health "sync")
EVENTS_LOST = "events.lost"  # sent to a client whose ?since= is older than the buffer
BACKUP_PROGRESS = "backup.progress"  # a backup or restore in progress: kind, phase, percent
BACKUP_COMPLETED = "backup.completed"
BACKUP_FAILED = "backup.failed"  # a backup, restore or maintenance run failed: kind, error
RESTORE_STATE = "restore.state"  # captures paused for a restore
RESTORE_COMPLETED = "restore.completed"
# Pairing the browser extension (docs/extension-protocol.md). pairing.* carry the code: admin/local clients only.
PAIRING_REQUESTED = "pairing.requested"
PAIRING_COMPLETED = "pairing.completed"
PAIRING_ENDED = "pairing.ended"
EXTENSION_REVOKED = "extension.revoked"  # also closes that extension's WebSocket sessions
CAPTURE_STALLED = "capture.stalled"  # an extension's selectors stopped finding messages (sent once)
CAPTURE_RESUMED = "capture.resumed"
UI_OPEN_REQUESTED = "ui.open_requested"  # the desktop tray opens the named window
# The knowledge base changed: {id, action: created|updated|deleted}, {action: imported, created, updated} after a
# CSV import, {action: synced, created, updated, deleted} after a pull from the team hub.
KNOWLEDGE_CHANGED = "knowledge.changed"
# "Draft with AI" (crm/drafts.py): addressed to the principal that asked (the event's audience), nobody else.
REPLY_DRAFT_STARTED = "reply.draft.started"
REPLY_DRAFT_TOKEN = "reply.draft.token"  # noqa: S105 - an event name, not a secret
REPLY_DRAFT_COMPLETED = "reply.draft.completed"
REPLY_DRAFT_FAILED = "reply.draft.failed"
REPLY_DRAFT_CANCELLED = "reply.draft.cancelled"
REPLY_DRAFT_EVENT_TYPES = frozenset((REPLY_DRAFT_STARTED, REPLY_DRAFT_TOKEN, REPLY_DRAFT_COMPLETED, REPLY_DRAFT_FAILED,
                                     REPLY_DRAFT_CANCELLED))

EVENT_TYPES = (MESSAGE_CAPTURED, ANALYSIS_COMPLETED, ALERT_RAISED, ALERT_RESOLVED, METRICS_UPDATED, AI_STATE,
               CAPTURE_STATE, SYNC_STATUS, EVENTS_LOST, BACKUP_PROGRESS, BACKUP_COMPLETED, BACKUP_FAILED,
               RESTORE_STATE, RESTORE_COMPLETED, PAIRING_REQUESTED, PAIRING_COMPLETED, PAIRING_ENDED, EXTENSION_REVOKED,
               CAPTURE_STALLED, CAPTURE_RESUMED, UI_OPEN_REQUESTED, KNOWLEDGE_CHANGED, *sorted(REPLY_DRAFT_EVENT_TYPES))

# What a browser extension's WebSocket receives: its panel's data, the pause state, that its quick replies
# changed (ids only), and its own drafts, nothing else.
EXTENSION_EVENT_TYPES = frozenset((MESSAGE_CAPTURED, ANALYSIS_COMPLETED, CAPTURE_STATE, KNOWLEDGE_CHANGED)) \
    | REPLY_DRAFT_EVENT_TYPES
PAIRING_EVENT_TYPES = frozenset((PAIRING_REQUESTED, PAIRING_COMPLETED, PAIRING_ENDED))

Subscriber = Callable[[dict[str, Any]], None]
AUDIENCE = "audience"


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a client receives it: without its audience."""
    if AUDIENCE not in event:
        return event
    return {k: v for k, v in event.items() if k != AUDIENCE}


class EventBus:
    def __init__(self, buffer_size: int, clock_ms: Callable[[], int] | None = None) -> None:
        clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._ids = itertools.count(clock_ms())
        self._buffer: deque[dict[str, Any]] = deque(maxlen=buffer_size)
        self._subscribers: list[Subscriber] = []

    def publish(self, event_type: str, data: dict[str, Any], ts: str, audience: str | None = None) -> dict[str, Any]:
        """audience: the one principal (crm.access.Principal.rate_key) whose sessions may receive it; None: anyone
        the event's type allows. It is kept beside the event, never sent (see public_event)."""
        event = {"type": event_type, "id": next(self._ids), "ts": ts, "data": data}
        if audience is not None:
            event[AUDIENCE] = audience
        self._buffer.append(event)
        for subscriber in list(self._subscribers):
            subscriber(event)
        return event

    def subscribe(self, subscriber: Subscriber, since: int | None = None) -> tuple[list[dict[str, Any]], bool]:
        """Register a subscriber; return the buffered events after `since` and whether some were lost.

        Replay and registration happen without yielding, so no event falls between them.
        """
        backlog: list[dict[str, Any]] = []
        lost = False
        if since is not None:
            backlog = [e for e in self._buffer if e["id"] > since]
            oldest = self.oldest_id
            lost = oldest is not None and since < oldest - 1 and since < self.last_id
        self._subscribers.append(subscriber)
        return backlog, lost

    def unsubscribe(self, subscriber: Subscriber) -> None:
        try:
            self._subscribers.remove(subscriber)
        except ValueError:
            pass

    @property
    def last_id(self) -> int:
        return self._buffer[-1]["id"] if self._buffer else 0

    @property
    def oldest_id(self) -> int | None:
        return self._buffer[0]["id"] if self._buffer else None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
