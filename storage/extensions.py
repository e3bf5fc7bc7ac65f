"""Paired browser extensions: their rows, with the SHA-256 of each token (never the token itself)."""

from __future__ import annotations

import hashlib
from typing import Any

from storage.database import Database

_COLUMNS = "id, name, browser, origin, token_hash, paired_at, last_seen_at, revoked_at"


def hash_token(token: str) -> str:
    # The token is 32 random bytes: a plain SHA-256 cannot be brute-forced, and looking it up stays a dict
    # access per request (a password hash such as argon2 would cost ~20 ms a request).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def insert_extension(db: Database, name: str, browser: str, origin: str, token_hash: str, now: str) -> int:
    return db.insert("INSERT INTO extensions (name, browser, origin, token_hash, paired_at, created_at, updated_at, "
                     "change_seq) VALUES (:n, :b, :o, :h, :now, :now, :now, :seq)",
                     {"n": name, "b": browser, "o": origin, "h": token_hash, "now": now, "seq": db.next_sequence()})


def restore_extension(db: Database, row: dict[str, Any], now: str) -> None:
    """Insert a row known in memory but missing from the database (paired after the backup just restored)."""
    db.execute("INSERT INTO extensions (id, name, browser, origin, token_hash, paired_at, last_seen_at, revoked_at, "
               "created_at, updated_at, change_seq) VALUES (:id, :name, :browser, :origin, :token_hash, :paired_at, "
               ":last_seen_at, :revoked_at, :now, :now, :seq)", {**row, "now": now, "seq": db.next_sequence()})


def all_extensions(db: Database) -> list[dict[str, Any]]:
    """Every extension ever paired, revoked ones too (their tokens must keep answering "revoked")."""
    return db.all(f"SELECT {_COLUMNS} FROM extensions ORDER BY id")


def get_extension(db: Database, extension_id: int) -> dict[str, Any] | None:
    return db.one(f"SELECT {_COLUMNS} FROM extensions WHERE id = :id", {"id": extension_id})


def active_ids_for_origin(db: Database, origin: str) -> list[int]:
    return [row["id"] for row in db.all("SELECT id FROM extensions WHERE origin = :o AND revoked_at IS NULL",
                                        {"o": origin})]


def revoke_extension(db: Database, extension_id: int, now: str) -> bool:
    """Mark an extension revoked; False when it does not exist or was revoked already."""
    cur = db.execute("UPDATE extensions SET revoked_at = :now, updated_at = :now, change_seq = :seq "
                     "WHERE id = :id AND revoked_at IS NULL", {"now": now, "seq": db.next_sequence(),
                                                                "id": extension_id})
    return cur.rowcount > 0


def record_last_seen(db: Database, extension_id: int, now: str) -> None:
    # Not a change worth a change_seq: extensions are not synced, and this is written once a minute at most.
    db.execute("UPDATE extensions SET last_seen_at = :now WHERE id = :id", {"now": now, "id": extension_id})
