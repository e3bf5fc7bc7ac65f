"""Accounts: password hashing (argon2id at OWASP's parameters), creation, the first admin."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.clock import Clock, iso
from core.paths import DataDir
from core.secrets_store import write_private_file
from storage import users as user_rows
from storage.database import Database

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
ROLES = ("admin", "agent")
MIN_PASSWORD_LENGTH = 8
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = PASSWORD_HASHER.hash("not-a-real-password")


class UserError(ValueError):
    pass


class NoSuchUser(UserError):
    pass


class UserConflict(UserError):
    """The change would lock the accounts out: disabling yourself, or the last active admin."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise UserError("password must have at most 1024 characters")
    return PASSWORD_HASHER.hash(password)


def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def normal_username(username: str) -> str:
    """How a username is stored and compared: casefolded (login finds older mixed-case rows too)."""
    return username.casefold()


def create_user(db: Database, clock: Clock, username: str, password: str, role: str = "agent",
                run_blocking: Callable[..., Any] = _inline) -> int:
    """run_blocking runs the (deliberately slow) hashing off the event loop; the database is written here."""
    if not USERNAME.fullmatch(username):
        raise UserError("username must be 1-64 letters, digits or _ . @ -")
    username = normal_username(username)  # PROBE and probe are one user
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if user_rows.get_user(db, username) is not None:
        raise UserError(f"user {username!r} already exists")
    password_hash = run_blocking(hash_password, password)
    with db.transaction():
        if user_rows.get_user(db, username) is not None:
            raise UserError(f"user {username!r} already exists")
        return user_rows.insert_user(db, username, password_hash, role, iso(clock.now()))


def change_password(db: Database, clock: Clock, username: str, password: str,
                    run_blocking: Callable[..., Any] = _inline) -> None:
    password_hash = run_blocking(hash_password, password)
    with db.transaction():
        user = user_rows.get_user(db, username)
        if user is None or not user_rows.update_password_hash(db, user["username"], password_hash,
                                                              iso(clock.now())):
            raise NoSuchUser(f"no user named {username!r}")


def set_user_active(db: Database, clock: Clock, username: str, active: bool, acting_user: str | None = None) -> str:
    """Enable or disable a user; return the stored username. Disabling ends the user's tokens (open WebSockets
    close at their next check). acting_user: the admin asking (None: the local desktop client or the command
    line), who may not disable themselves; nobody may disable the last active admin."""
    with db.transaction():  # BEGIN IMMEDIATE: the admin count cannot change between the check and the update
        user = user_rows.get_user(db, username)
        if user is None:
            raise NoSuchUser(f"no user named {username!r}")
        name = user["username"]
        if not active and user["active"]:
            if acting_user is not None and acting_user == name:
                raise UserConflict("you cannot disable your own account")
            if user["role"] == "admin" and user_rows.count_active_admins(db) <= 1:
                raise UserConflict(f"{name!r} is the last active admin; make another admin first")
        if bool(user["active"]) != active:
            user_rows.set_active(db, name, active, iso(clock.now()))
        return name


def revoke_sessions(db: Database, clock: Clock, username: str) -> str:
    """End every access token of this user (they log in again); return the stored username."""
    with db.transaction():
        user = user_rows.get_user(db, username)
        if user is None:
            raise NoSuchUser(f"no user named {username!r}")
        user_rows.bump_token_version(db, user["username"], iso(clock.now()))
        return user["username"]


def end_token(db: Database, clock: Clock, token_id: str, expires_at: int) -> None:
    """Log one access token out (its jti is refused until it would have expired)."""
    with db.transaction():
        user_rows.revoke_token(db, token_id, expires_at, int(clock.now().timestamp()))


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Check a password against a stored hash; None (unknown user) costs the same time and fails."""
    try:
        PASSWORD_HASHER.verify(stored_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None


def verify_credentials(db: Database, username: str, password: str,
                       run_blocking: Callable[..., Any] = lambda fn, *args: fn(*args)) -> dict | None:
    """The user row when the password matches an active account, else None.

    run_blocking runs the (deliberately slow) hash check off the event loop; the database is read here,
    on the caller's thread.
    """
    user = user_rows.get_user(db, username)
    if not run_blocking(password_matches, user["password_hash"] if user else None, password):
        return None
    if user is None or not user["active"]:
        return None
    return user


def ensure_first_admin(db: Database, clock: Clock, data_dir: DataDir) -> str | None:
    """Create 'admin' with a random password when there are no users; return that password (else None).

    The password is also kept in a 0600 file so the tray can show it once.
    """
    if user_rows.count_users(db) > 0:
        return None
    password = secrets.token_urlsafe(12)
    create_user(db, clock, "admin", password, role="admin")
    write_private_file(data_dir.admin_password_file, f"username: admin\npassword: {password}\n")
    return password
