"""Warnings and errors kept in the database (system_logs), written in batches off the request path."""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

from core.clock import Clock, iso
from core.logging_setup import render_message
from storage.database import Database, DiskFull


class DatabaseLogHandler(logging.Handler):
    """Buffers WARNING+ records in memory; flush() writes them in one transaction.

    Writing from emit() directly could run inside another transaction or recurse through the database's
    own logging, so the service flushes from its housekeeping loop instead.
    """

    def __init__(self, clock: Clock, capacity: int = 10000) -> None:
        super().__init__(level=logging.WARNING)
        self._clock = clock
        self._pending: deque[dict[str, Any]] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = render_message(record)
            context = {"module": record.module, "line": record.lineno}
            if record.exc_info and record.exc_info[0] is not None:
                context["exception"] = record.exc_info[0].__name__
            self._pending.append({"level": record.levelname, "logger": record.name, "message": message[:4000],
                                  "context": json.dumps(context), "at": iso(self._clock.now())})
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)

    def flush_to(self, db: Database) -> int:
        if not self._pending or db.in_transaction:
            return 0
        rows = []
        while self._pending:
            rows.append(self._pending.popleft())
        try:
            with db.transaction():
                for row in rows:
                    row["seq"] = db.next_sequence()
                db.executemany("INSERT INTO system_logs (level, logger, message, context, created_at, updated_at, "
                               "change_seq) VALUES (:level, :logger, :message, :context, :at, :at, :seq)", rows)
        except DiskFull:
            self._pending.extendleft(reversed(rows))  # written once there is room (the deque stays bounded)
            raise
        return len(rows)


def recent_logs(db: Database, limit: int, level: str | None = None) -> list[dict[str, Any]]:
    if level:
        return db.all("SELECT id, level, logger, message, context, created_at FROM system_logs WHERE level = :l "
                      "ORDER BY id DESC LIMIT :n", {"l": level, "n": limit})
    return db.all("SELECT id, level, logger, message, context, created_at FROM system_logs ORDER BY id DESC "
                  "LIMIT :n", {"n": limit})
