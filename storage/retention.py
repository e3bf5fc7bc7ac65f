"""Retention and upkeep of the SQLite file: old raw payloads and log rows, ANALYZE, VACUUM.

Deletions run in small transactions on the service's connection so captures interleave with them.
Clearing a raw payload is local housekeeping, not a change of the message, so it leaves updated_at and
change_seq alone (sync does not resend the row and a hub keeps its own copy).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from storage.database import Database
from storage.sync_state import RETENTION, record_tombstones

BATCH = 5000


def clear_raw_payloads(db: Database, sent_before: str, batch: int = BATCH) -> int:
    """Set messages.raw to NULL for messages sent before the cutoff (ISO UTC); returns the rows changed."""
    return _in_batches(db, "UPDATE messages SET raw = NULL WHERE id IN (SELECT id FROM messages "
                           "WHERE sent_at < :cutoff AND raw IS NOT NULL LIMIT :batch)", sent_before, batch)


def delete_old_logs(db: Database, created_before: str, batch: int = BATCH) -> int:
    """Delete system_logs rows created before the cutoff (ISO UTC); returns the rows deleted."""
    return _in_batches(db, "DELETE FROM system_logs WHERE id IN (SELECT id FROM system_logs "
                           "WHERE created_at < :cutoff LIMIT :batch)", created_before, batch)


def delete_old_messages(db: Database, sent_before: str, now: str, batch: int = BATCH) -> int:
    """Delete messages sent before the cutoff (ISO UTC) with their analyses, a batch per transaction, each writing
    the tombstones that tell a team hub; returns the messages deleted. Conversations and customers stay, with
    their counters: they summarise what was captured."""
    total = 0
    while True:
        with db.transaction():
            ids = [r["id"] for r in db.all("SELECT id FROM messages WHERE sent_at < :cutoff ORDER BY id LIMIT :batch",
                                           {"cutoff": sent_before, "batch": batch})]
            if ids:
                analyses = [r["id"] for r in db.all(
                    "SELECT id FROM ai_analysis WHERE message_id IN (SELECT id FROM messages WHERE sent_at < :cutoff "
                    "ORDER BY id LIMIT :batch)", {"cutoff": sent_before, "batch": batch})]
                params = {"lo": ids[0], "hi": ids[-1], "cutoff": sent_before}
                db.execute("DELETE FROM ai_analysis WHERE message_id BETWEEN :lo AND :hi AND message_id IN "
                           "(SELECT id FROM messages WHERE sent_at < :cutoff)", params)
                db.execute("DELETE FROM messages WHERE id BETWEEN :lo AND :hi AND sent_at < :cutoff", params)
                record_tombstones(db, "ai_analysis", analyses, RETENTION, now)
                record_tombstones(db, "messages", ids, RETENTION, now)
        total += len(ids)
        if len(ids) < batch:
            return total
        time.sleep(0)  # under gevent: let waiting requests in between batches


def _in_batches(db: Database, sql: str, cutoff: str, batch: int) -> int:
    total = 0
    while True:
        with db.transaction():
            changed = db.execute(sql, {"cutoff": cutoff, "batch": batch}).rowcount
        total += changed
        if changed < batch:
            return total
        time.sleep(0)  # under gevent: let waiting requests in between batches


def analyze(path: Path, busy_timeout_s: float) -> None:
    """Refresh the planner's statistics; analysis_limit keeps it to milliseconds on a large database."""
    conn = sqlite3.connect(path, timeout=busy_timeout_s)
    try:
        conn.execute("PRAGMA analysis_limit=1000")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()


def free_space(path: Path) -> tuple[int, int]:
    """(free pages, total pages)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (int(conn.execute("PRAGMA freelist_count").fetchone()[0]),
                int(conn.execute("PRAGMA page_count").fetchone()[0]))
    finally:
        conn.close()


def vacuum_if_worthwhile(path: Path, min_free_percent: float, busy_timeout_s: float) -> dict[str, Any]:
    """VACUUM when at least min_free_percent of the pages are free (it rewrites the whole file)."""
    free, total = free_space(path)
    percent = 100.0 * free / total if total else 0.0
    if total == 0 or free == 0 or percent < min_free_percent:
        return {"vacuumed": False, "free_pages": free, "pages": total, "free_percent": round(percent, 1)}
    conn = sqlite3.connect(path, timeout=busy_timeout_s)
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    _, after_total = free_space(path)
    return {"vacuumed": True, "free_pages": free, "pages": total, "free_percent": round(percent, 1),
            "pages_after": after_total}
