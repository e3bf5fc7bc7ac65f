"""User accounts (hashes only; never plain passwords)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.database import Database


@dataclass(frozen=True)
class TokenStanding:
    """What the users table says about one access token's user and id (read on every authenticated request)."""

    role: str
    token_version: int
    revoked: bool  # this token's jti was logged out


def count_users(db: Database) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM users") or 0)


def get_user(db: Database, username: str) -> dict[str, Any] | None:
    """The user of that name in any case (usernames are ASCII; new ones are stored casefolded). Rows made
    before that may differ only in case: the exact spelling wins, else the oldest."""
    return db.one("SELECT id, username, password_hash, role, active, token_version, last_login_at, created_at "
                  "FROM users WHERE lower(username) = lower(:u) ORDER BY CASE WHEN username = :u THEN 0 ELSE 1 END, id "
                  "LIMIT 1", {"u": username})


def token_standing(db: Database, username: str, jti: str) -> TokenStanding | None:
    """The active user's role and token version, and whether this token id was logged out; None when no active
    user has that name. One statement, two primary-key/unique lookups: it runs on every authenticated request."""
    row = db.one("SELECT role, token_version, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = :j) AS revoked "
                 "FROM users WHERE username = :u AND active = 1", {"u": username, "j": jti})
    if row is None:
        return None
    return TokenStanding(str(row["role"]), int(row["token_version"]), bool(row["revoked"]))


class TokenStandings:
    """token_standing with its answers remembered while the database is unchanged (Database.change_marker): the
    same answers, without a statement on most authenticated requests. Any change at all forgets them (a capture
    too: with the group commit that is once per batch), so a logout, a disabled user or a CLI revocation from
    another process holds at the very next request. At most `capacity` answers are kept (oldest dropped first).
    On PostgreSQL (a hub: many processes, no cheap marker) every call asks the database.
    """

    def __init__(self, db: Database, capacity: int = 4096) -> None:
        self._db = db
        self._capacity = capacity
        self._marker: tuple[int, int, int] | None = None
        self._answers: dict[tuple[str, str], TokenStanding | None] = {}

    def __call__(self, username: str, jti: str) -> TokenStanding | None:
        marker = self._db.change_marker()
        if marker is None:
            return token_standing(self._db, username, jti)
        if marker != self._marker:
            self._answers.clear()
            self._marker = marker
        key = (username, jti)
        if key in self._answers:
            return self._answers[key]
        answer = token_standing(self._db, username, jti)
        if len(self._answers) >= self._capacity:
            del self._answers[next(iter(self._answers))]
        self._answers[key] = answer
        return answer

    def __len__(self) -> int:
        return len(self._answers)


def revoke_token(db: Database, jti: str, expires_at: int, now: int) -> None:
    """Remember a logged-out token id until it would expire anyway, and forget the ids whose tokens have."""
    db.execute("DELETE FROM revoked_tokens WHERE expires_at <= :now", {"now": now})
    if expires_at > now:
        db.execute("INSERT INTO revoked_tokens (jti, expires_at) VALUES (:j, :e) ON CONFLICT (jti) DO NOTHING",
                   {"j": jti, "e": expires_at})


def bump_token_version(db: Database, username: str, now: str) -> bool:
    """End every access token issued to this user so far (they carry the previous version)."""
    cur = db.execute("UPDATE users SET token_version = token_version + 1, updated_at = :now, change_seq = :seq "
                     "WHERE username = :u", {"now": now, "seq": db.next_sequence(), "u": username})
    return cur.rowcount > 0


def set_active(db: Database, username: str, active: bool, now: str) -> bool:
    """Enable or disable a user; disabling also ends their tokens (a later enable does not bring them back)."""
    bump = "token_version = token_version + 1, " if not active else ""
    cur = db.execute(f"UPDATE users SET active = :a, {bump}updated_at = :now, change_seq = :seq WHERE username = :u",
                     {"a": 1 if active else 0, "now": now, "seq": db.next_sequence(), "u": username})
    return cur.rowcount > 0


def count_active_admins(db: Database) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1") or 0)


def list_users(db: Database) -> list[dict[str, Any]]:
    return db.all("SELECT id, username, role, active, last_login_at, created_at FROM users ORDER BY username")


def insert_user(db: Database, username: str, password_hash: str, role: str, now: str) -> int:
    return db.insert("INSERT INTO users (username, password_hash, role, active, created_at, updated_at, change_seq) "
                     "VALUES (:u, :h, :r, 1, :now, :now, :seq)",
                     {"u": username, "h": password_hash, "r": role, "now": now, "seq": db.next_sequence()})


def update_password_hash(db: Database, username: str, password_hash: str, now: str) -> bool:
    """Set a new password hash; the user's tokens issued so far end with it (token_version + 1)."""
    cur = db.execute("UPDATE users SET password_hash = :h, token_version = token_version + 1, updated_at = :now, "
                     "change_seq = :seq WHERE username = :u",
                     {"h": password_hash, "now": now, "seq": db.next_sequence(), "u": username})
    return cur.rowcount > 0


def record_login(db: Database, username: str, now: str) -> None:
    db.execute("UPDATE users SET last_login_at = :now WHERE username = :u", {"now": now, "u": username})


@dataclass(frozen=True)
class SessionRevocations:
    """What ended access tokens in a database: each user's token version and whether they are disabled, and
    the logged-out token ids. Read from the live database before a restore and applied again after it."""

    token_versions: dict[str, int]
    disabled: frozenset[str]
    revoked_tokens: tuple[tuple[str, int], ...]  # (jti, expires_at)


def read_revocations(db: Database) -> SessionRevocations:
    users = db.all("SELECT username, token_version, active FROM users")
    return SessionRevocations(
        token_versions={str(u["username"]): int(u["token_version"]) for u in users},
        disabled=frozenset(str(u["username"]) for u in users if not u["active"]),
        revoked_tokens=tuple((str(r["jti"]), int(r["expires_at"])) for r in db.all(
            "SELECT jti, expires_at FROM revoked_tokens")))


def reapply_revocations(db: Database, before: SessionRevocations, now: str) -> int:
    """After a restore: a restored users table is older than the tokens handed out since its backup. Keep every
    later revocation (a token version only grows, a user disabled since stays disabled, logged-out ids stay
    out), or an old backup would bring ended sessions back. Returns how many users changed."""
    changed = 0
    with db.transaction():
        for username, version in before.token_versions.items():
            disable = ", active = 0" if username in before.disabled else ""
            cur = db.execute(
                f"UPDATE users SET token_version = MAX(token_version, :v){disable}, updated_at = :now, "
                "change_seq = :seq WHERE username = :u AND (token_version < :v OR (:d = 1 AND active = 1))",
                {"v": version, "u": username, "d": 1 if disable else 0, "now": now, "seq": db.next_sequence()})
            changed += cur.rowcount
        for jti, expires_at in before.revoked_tokens:
            db.execute("INSERT INTO revoked_tokens (jti, expires_at) VALUES (:j, :e) ON CONFLICT (jti) DO NOTHING",
                       {"j": jti, "e": expires_at})
    return changed
