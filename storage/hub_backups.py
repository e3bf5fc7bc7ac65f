"""The hub's side of off-site backups: each agent's encrypted backup files, stored in parts, newest N kept.

An upload is three steps, each safe to repeat (the agent retries through drops and duplicates): start (name,
size, SHA-256, key id) -> one row in hub_backups; put each part (an upsert of hub_backup_parts); complete, which
checks every part is there, the size and the SHA-256 of the parts in order, and that the file starts with the
encrypted-backup header carrying the announced key id (the hub refuses a file the agent did not encrypt), then
marks it complete and removes the agent's oldest complete backups beyond `keep`. The hub cannot decrypt the
files: the key stays on the agents (docs/decisions.md "Off-site backups on the hub").

Every statement is short and runs without yielding (psycopg2 blocks the hub's loop), so a part is written in
one transaction on the shared connection.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from storage.backup_crypto import MAGIC
from storage.database import Database

PART_BYTES = 1024 * 1024  # one part per request: the hub holds at most one part of an upload in memory
KEY_ID_AT = slice(len(MAGIC), len(MAGIC) + 8)  # the key id's place in the encrypted file's header
BACKUP_NAME = re.compile(r"crm_agent-[0-9A-Za-z._-]{1,180}\.db\.enc")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
KEY_ID_HEX = re.compile(r"[0-9a-f]{16}")


class HubBackupError(ValueError):
    """The upload is not acceptable (422 unless said otherwise)."""

    def __init__(self, message: str, status: int = 422, code: str = "validation_error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class UploadStart:
    name: str
    size_bytes: int
    sha256: str
    key_id: str
    created_at: str


def parts_for(size_bytes: int) -> int:
    return max(1, -(-size_bytes // PART_BYTES))


def start_upload(db: Database, agent_id: int, upload: UploadStart, max_bytes: int, now: str) -> dict[str, Any]:
    """Begin (or resume) an upload; returns what the agent needs to send the rest.

    The same name with the same content resumes (the parts already received are listed); an unfinished upload
    with other content (the agent encrypted the file again after a restart) starts over; a complete one is
    reported complete, so a repeated upload sends nothing. Other unfinished uploads of this agent are dropped:
    one at a time per agent bounds what a token holder can leave lying on the hub.
    """
    if upload.size_bytes > max_bytes:
        raise HubBackupError(f"size_bytes: the hub takes backups of at most {max_bytes} bytes "
                             "(sync.hub_backup_max_bytes)", 413, "payload_too_large")
    parts = parts_for(upload.size_bytes)
    with db.transaction():
        for stale in db.all("SELECT id FROM hub_backups WHERE agent_id = :a AND completed_at IS NULL AND name <> :n",
                            {"a": agent_id, "n": upload.name}):
            _delete(db, int(stale["id"]))
        row = db.one("SELECT id, sha256, size_bytes, completed_at FROM hub_backups WHERE agent_id = :a AND name = :n",
                     {"a": agent_id, "n": upload.name})
        if row is not None and row["completed_at"] is not None:
            return {"name": upload.name, "complete": True, "part_bytes": PART_BYTES, "parts": parts, "received": []}
        if row is not None and (row["sha256"] != upload.sha256 or int(row["size_bytes"]) != upload.size_bytes):
            _delete(db, int(row["id"]))
            row = None
        if row is None:
            db.execute("INSERT INTO hub_backups (agent_id, name, size_bytes, parts, sha256, key_id, backup_created_at, "
                       "started_at) VALUES (:a, :n, :s, :p, :h, :k, :c, :now)",
                       {"a": agent_id, "n": upload.name, "s": upload.size_bytes, "p": parts, "h": upload.sha256,
                        "k": upload.key_id, "c": upload.created_at, "now": now})
            received: list[int] = []
        else:
            received = [int(r["part"]) for r in db.all("SELECT part FROM hub_backup_parts WHERE backup_id = :b "
                                                       "ORDER BY part", {"b": row["id"]})]
    return {"name": upload.name, "complete": False, "part_bytes": PART_BYTES, "parts": parts, "received": received}


def put_part(db: Database, agent_id: int, name: str, part: int, data: bytes) -> None:
    """Store part `part` (1-based) of this agent's unfinished upload `name`; repeating it replaces it."""
    row = _own(db, agent_id, name)
    if row["completed_at"] is not None:
        return  # a late duplicate of a part of a finished upload: nothing to do
    parts, size = int(row["parts"]), int(row["size_bytes"])
    if not 1 <= part <= parts:
        raise HubBackupError(f"part: this upload has parts 1 to {parts}")
    expected = PART_BYTES if part < parts else size - PART_BYTES * (parts - 1)
    if len(data) != expected:
        raise HubBackupError(f"part {part} must be {expected} bytes, got {len(data)}")
    with db.transaction():
        db.execute("DELETE FROM hub_backup_parts WHERE backup_id = :b AND part = :p", {"b": row["id"], "p": part})
        db.execute("INSERT INTO hub_backup_parts (backup_id, part, data) VALUES (:b, :p, :d)",
                   {"b": row["id"], "p": part, "d": data})


def complete_upload(db: Database, agent_id: int, name: str, keep: int, now: str) -> dict[str, Any]:
    """Check the upload whole and mark it complete; then keep only the agent's newest `keep` backups."""
    row = _own(db, agent_id, name)
    if row["completed_at"] is None:
        _check_whole(db, row)
        with db.transaction():
            db.execute("UPDATE hub_backups SET completed_at = :now WHERE id = :b", {"now": now, "b": row["id"]})
    removed = prune(db, agent_id, keep)
    return {"name": name, "complete": True, "removed": removed}


def _check_whole(db: Database, row: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    size = 0
    for number, data in enumerate(iter_parts(db, int(row["id"]), int(row["parts"])), start=1):
        if number == 1 and (data[: len(MAGIC)] != MAGIC or data[KEY_ID_AT].hex() != row["key_id"]):
            _delete_quietly(db, int(row["id"]))
            raise HubBackupError("the file is not an encrypted CRM Agent backup with the announced key id; the hub "
                                 "keeps only backups encrypted on the agent", 422, "not_encrypted")
        digest.update(data)
        size += len(data)
    if size != int(row["size_bytes"]) or digest.hexdigest() != row["sha256"]:
        _delete_quietly(db, int(row["id"]))
        raise HubBackupError("the parts received do not add up to the announced file (size or SHA-256); "
                             "upload it again", 409, "upload_mismatch")


def iter_parts(db: Database, backup_id: int, parts: int) -> Iterator[bytes]:
    """The parts in order, one query each (a whole file is never in memory); HubBackupError if one is missing."""
    for part in range(1, parts + 1):
        data = db.scalar("SELECT data FROM hub_backup_parts WHERE backup_id = :b AND part = :p",
                         {"b": backup_id, "p": part})
        if data is None:
            raise HubBackupError(f"part {part} of {parts} has not been received", 409, "upload_incomplete")
        yield bytes(data)


def list_complete(db: Database, agent_id: int) -> list[dict[str, Any]]:
    """This agent's complete backups, newest first."""
    rows = db.all("SELECT name, size_bytes, sha256, key_id, backup_created_at, completed_at FROM hub_backups "
                  "WHERE agent_id = :a AND completed_at IS NOT NULL ORDER BY backup_created_at DESC, id DESC",
                  {"a": agent_id})
    return [{"name": r["name"], "size_bytes": int(r["size_bytes"]), "sha256": r["sha256"], "key_id": r["key_id"],
             "created_at": r["backup_created_at"], "uploaded_at": r["completed_at"]} for r in rows]


def complete_backup(db: Database, agent_id: int, name: str) -> dict[str, Any]:
    """This agent's complete backup `name` (id, parts, size, sha256); HubBackupError 404 otherwise."""
    row = _own(db, agent_id, name)
    if row["completed_at"] is None:
        raise HubBackupError(f"no complete backup named {name}", 404, "not_found")
    return row


def prune(db: Database, agent_id: int, keep: int) -> int:
    """Remove the agent's complete backups beyond the newest `keep`; returns how many."""
    rows = db.all("SELECT id FROM hub_backups WHERE agent_id = :a AND completed_at IS NOT NULL "
                  "ORDER BY backup_created_at DESC, id DESC", {"a": agent_id})
    stale = [int(r["id"]) for r in rows[keep:]]
    if stale:
        with db.transaction():
            for backup_id in stale:
                _delete(db, backup_id)
    return len(stale)


def _own(db: Database, agent_id: int, name: str) -> dict[str, Any]:
    """The upload `name` of this agent; another agent's is as absent as a name nobody used (404)."""
    row = db.one("SELECT id, parts, size_bytes, sha256, key_id, completed_at FROM hub_backups "
                 "WHERE agent_id = :a AND name = :n", {"a": agent_id, "n": name})
    if row is None:
        raise HubBackupError(f"no backup named {name}", 404, "not_found")
    return row


def _delete(db: Database, backup_id: int) -> None:
    db.execute("DELETE FROM hub_backup_parts WHERE backup_id = :b", {"b": backup_id})
    db.execute("DELETE FROM hub_backups WHERE id = :b", {"b": backup_id})


def _delete_quietly(db: Database, backup_id: int) -> None:
    with db.transaction():
        _delete(db, backup_id)
