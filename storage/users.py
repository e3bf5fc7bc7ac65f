"""User accounts (hashes only; never plain passwords)."""

from __future__ import annotations

from typing import Any

from storage.database import Database


def count_users(db: Database) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM users") or 0)


def get_user(db: Database, username: str) -> dict[str, Any] | None:
    """The user of that name in any case (usernames are ASCII; new ones are stored casefolded). Rows made
    before that may differ only in case: the exact spelling wins, else the oldest."""
    return db.one("SELECT id, username, password_hash, role, active, last_login_at, created_at FROM users "
                  "WHERE lower(username) = lower(:u) ORDER BY CASE WHEN username = :u THEN 0 ELSE 1 END, id "
                  "LIMIT 1", {"u": username})


def active_role(db: Database, username: str) -> str | None:
    """The role of the active user of that name, else None (checked on every authenticated request)."""
    value = db.scalar("SELECT role FROM users WHERE username = :u AND active = 1", {"u": username})
    return str(value) if value is not None else None


def list_users(db: Database) -> list[dict[str, Any]]:
    return db.all("SELECT id, username, role, active, last_login_at, created_at FROM users ORDER BY username")


def insert_user(db: Database, username: str, password_hash: str, role: str, now: str) -> int:
    return db.insert("INSERT INTO users (username, password_hash, role, active, created_at, updated_at, change_seq) "
                     "VALUES (:u, :h, :r, 1, :now, :now, :seq)",
                     {"u": username, "h": password_hash, "r": role, "now": now, "seq": db.next_sequence()})


def update_password_hash(db: Database, username: str, password_hash: str, now: str) -> bool:
    cur = db.execute("UPDATE users SET password_hash = :h, updated_at = :now, change_seq = :seq WHERE username = :u",
                     {"h": password_hash, "now": now, "seq": db.next_sequence(), "u": username})
    return cur.rowcount > 0


def record_login(db: Database, username: str, now: str) -> None:
    db.execute("UPDATE users SET last_login_at = :now WHERE username = :u", {"now": now, "u": username})
