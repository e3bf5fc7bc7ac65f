"""The hub's side of team sync: agent tokens, pushed rows, the shared customer profiles.

hub_rows keeps every row an agent pushed, keyed by (agent_id, table_name, row_id); a push is an upsert that
replaces a stored row only with a newer change of it (higher change_seq), so a repeated or reordered batch
changes nothing. The hub's own customers table is the shared profile per phone (E.164): pushed customers
rows are merged into it field by field (last writer wins on the HLC stamps), and its change_seq, taken from
the hub's change_sequence, is what agents pull by.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from core.clock import iso
from storage.database import Database
from storage.knowledge import merge_pushed_entries
from storage.profiles import SHARED_FIELDS, merge
from storage.sync_state import (
    decode_profile,
    insert_profile,
    is_phone_key,
    observe_hlc,
    record_conflicts,
    write_profile_changes,
)

TOKEN_PREFIX = "crmhub_"  # noqa: S105 - a prefix, not a password


def hash_token(token: str) -> str:
    # The token is 32 random bytes: a plain SHA-256 cannot be brute-forced, and the lookup stays one
    # indexed query per request (a password hash such as argon2 would cost ~20 ms a push).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HubError(ValueError):
    pass


LAST_SEEN_WRITE_INTERVAL_S = 60  # last_seen_at is for the hub's admin: one write a minute per agent is enough


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add_agent(db: Database, name: str, now: str) -> str:
    """Register an agent and return its token (shown once; only its hash is stored)."""
    if not name or len(name) > 128:
        raise HubError("agent name must be 1 to 128 characters")
    if db.scalar("SELECT 1 FROM hub_agents WHERE name = :n", {"n": name}) is not None:
        raise HubError(f"an agent named {name!r} already exists")
    token = _new_token()
    with db.transaction():
        db.execute("INSERT INTO hub_agents (name, token_hash, created_at, updated_at, change_seq) "
                   "VALUES (:n, :h, :now, :now, :seq)",
                   {"n": name, "h": hash_token(token), "now": now, "seq": db.next_sequence()})
    return token


def _agent_id(db: Database, name: str) -> int:
    agent_id = db.scalar("SELECT id FROM hub_agents WHERE name = :n", {"n": name})
    if agent_id is None:
        raise HubError(f"no agent named {name!r} (agent.py hub agent-list)")
    return int(agent_id)


def revoke_agent(db: Database, name: str, now: str) -> bool:
    """End this agent's token from its next request on; False when it was revoked already. Its rows stay."""
    agent_id = _agent_id(db, name)
    with db.transaction():
        changed = db.execute("UPDATE hub_agents SET active = 0, revoked_at = :now, updated_at = :now, "
                             "change_seq = :seq WHERE id = :a AND active = 1",
                             {"now": now, "seq": db.next_sequence(), "a": agent_id}).rowcount
    return changed > 0


def rotate_agent(db: Database, name: str, now: str) -> str:
    """A new token for this agent, which keeps its id, its rows and its acknowledged cursor; the old token ends
    at once (it then answers "replaced" rather than "unknown"). A revoked agent comes back active this way,
    with a token its old holder never saw."""
    agent_id = _agent_id(db, name)
    token = _new_token()
    with db.transaction():
        db.execute("UPDATE hub_agents SET previous_token_hash = token_hash, token_hash = :h, active = 1, "
                   "revoked_at = NULL, rotated_at = :now, updated_at = :now, change_seq = :seq WHERE id = :a",
                   {"h": hash_token(token), "now": now, "seq": db.next_sequence(), "a": agent_id})
    return token


def list_agents(db: Database) -> list[dict[str, Any]]:
    return db.all("SELECT a.id, a.name, a.active, a.last_push_at, a.last_seen_at, a.acked_seq, a.created_at, "
                  "a.revoked_at, a.rotated_at, "
                  "(SELECT COUNT(*) FROM hub_rows r WHERE r.agent_id = a.id AND r.deleted_reason IS NULL) AS rows "
                  "FROM hub_agents a ORDER BY a.id")


@dataclass(frozen=True)
class TokenCheck:
    """What a presented hub token is: "ok" (an active agent's), "revoked", "replaced" (by a rotation) or
    "unknown"; agent_id for the first three."""

    state: str
    agent_id: int | None = None


def check_token(db: Database, token: str, now: datetime) -> TokenCheck:
    """Look the token up on every request (one indexed query), so a revocation or rotation made by
    `agent.py hub agent-revoke|agent-rotate` in another process counts from the next request on."""
    if not token.startswith(TOKEN_PREFIX):
        return TokenCheck("unknown")
    digest = hash_token(token)
    agent = db.one("SELECT id, active, last_seen_at FROM hub_agents WHERE token_hash = :h", {"h": digest})
    if agent is None:
        replaced = db.scalar("SELECT id FROM hub_agents WHERE previous_token_hash = :h", {"h": digest})
        return TokenCheck("replaced", int(replaced)) if replaced is not None else TokenCheck("unknown")
    if not agent["active"]:
        return TokenCheck("revoked", int(agent["id"]))
    seen_before = iso(now - timedelta(seconds=LAST_SEEN_WRITE_INTERVAL_S))
    if agent["last_seen_at"] is None or agent["last_seen_at"] < seen_before:
        with db.transaction():  # not a synced change: no change_seq, so agents' pulls do not see it
            db.execute("UPDATE hub_agents SET last_seen_at = :now WHERE id = :a", {"now": iso(now), "a": agent["id"]})
    return TokenCheck("ok", int(agent["id"]))


def without_nul(value: Any) -> Any:
    """value with NUL characters replaced by U+FFFD: PostgreSQL text and JSONB cannot hold NUL."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def store_push(db: Database, agent_id: int, rows: list[dict[str, Any]], upto: int, now: str) -> None:
    """Upsert one pushed batch and merge its customer profiles and knowledge entries, in one transaction.

    A tombstone (row["deleted"]: why) is stored like a change of the row: its data emptied, deleted_reason set and
    its change_seq kept, so the same rule orders everything: a stored row changes only for a higher change_seq.
    A repeated tombstone, or a late push of the row's older version, changes nothing.
    """
    encoded = []
    for row in rows:
        try:
            text = orjson.dumps(row["data"]).decode()
        except TypeError as exc:  # e.g. nested deeper than orjson writes (254 levels)
            raise HubError(f"rows: {row['t']} row {row['id']} cannot be stored: {exc}") from None
        if db.is_postgres and "\\u0000" in text:
            row = dict(row, data=without_nul(row["data"]))
            text = orjson.dumps(row["data"]).decode()
        encoded.append((row, text))
    # One statement cannot upsert the same row twice (PostgreSQL's CardinalityViolation, found by the fuzzer):
    # a batch naming a row more than once keeps its newest version, which is what the upsert would keep.
    newest: dict[tuple[str, Any], tuple[dict[str, Any], str]] = {}
    for row, text in encoded:
        key = (row["t"], row["id"])
        if key not in newest or newest[key][0]["seq"] <= row["seq"]:
            newest[key] = (row, text)
    # In key order: two pushes of the same agent at once (a retry while the first still runs) then lock the
    # rows in the same order, and the second waits instead of deadlocking.
    encoded = [newest[key] for key in sorted(newest)]
    with db.transaction():
        db.execute_values(
            "INSERT INTO hub_rows (agent_id, table_name, row_id, change_seq, data, received_at, deleted_reason) "
            "VALUES %s ON CONFLICT (agent_id, table_name, row_id) DO UPDATE SET change_seq = excluded.change_seq, "
            "data = excluded.data, received_at = excluded.received_at, deleted_reason = excluded.deleted_reason "
            "WHERE hub_rows.change_seq < excluded.change_seq",
            [(agent_id, row["t"], row["id"], row["seq"], text, now, row.get("deleted")) for row, text in encoded])
        merge_pushed_profiles(db, [row["data"] for row, _ in encoded
                                   if row["t"] == "customers" and not row.get("deleted")], now)
        merge_pushed_entries(db, [row for row, _ in encoded if row["t"] == "knowledge"], now)
        db.execute("UPDATE hub_agents SET last_push_at = :now, "
                   "acked_seq = CASE WHEN acked_seq < :u THEN :u ELSE acked_seq END WHERE id = :a",
                   {"now": now, "u": upto, "a": agent_id})


def merge_pushed_profiles(db: Database, customers: list[dict[str, Any]], now: str) -> None:
    """Fold agents' customer rows into the shared profiles; the hub keeps what lost in sync_conflicts."""
    # Shared profiles are per phone: a @lid or group customer (keyed by its JID) stays on its agent, since a
    # merge there (docs/decisions.md "Customer keys") would leave the hub a profile nobody can retire.
    pushed = {row["phone"]: row for row in customers
              if isinstance(row.get("phone"), str) and is_phone_key(row["phone"])}
    if not pushed:
        return
    # The change_sequence row's lock first, then the reads: pushes from several agents run at once, and two of
    # them merging the same profile must see each other's result (last writer wins), not the same old one.
    db.next_sequence()
    params = {f"p{i}": phone for i, phone in enumerate(pushed)}
    shared = {row["phone"]: row for row in db.all(
        f"SELECT id, phone, {', '.join(SHARED_FIELDS)}, field_hlc FROM customers "
        f"WHERE phone IN ({', '.join(':' + k for k in params)})", params)}
    seen: list[str] = []
    for phone, row in pushed.items():
        incoming, incoming_hlc = decode_profile(row)
        seen.extend(incoming_hlc.values())
        current_row = shared.get(phone)
        if current_row is None:
            insert_profile(db, phone, incoming, incoming_hlc, now)
            continue
        current, current_hlc = decode_profile(current_row)
        result = merge(current, current_hlc, incoming, incoming_hlc, incoming_fills_unstamped=False)
        if result.changes or result.hlc != current_hlc:
            write_profile_changes(db, int(current_row["id"]), result.changes, result.hlc, now)
        record_conflicts(db, phone, result.conflicts, now)
    observe_hlc(db, seen)


def profiles_since(db: Database, after_seq: int, after_id: int, limit: int) -> dict[str, Any]:
    """Shared profiles changed after the cursor (change_seq, id), oldest first, with the next cursor.

    The pair is an exact cursor: rows of one hub transaction share a change_seq and are ordered by id, and a
    profile that changes again gets a higher change_seq (it reappears, newest values).
    """
    rows = db.all(f"SELECT id, phone, {', '.join(SHARED_FIELDS)}, field_hlc, change_seq FROM customers "
                  "WHERE change_seq > :s OR (change_seq = :s AND id > :i) ORDER BY change_seq, id LIMIT :n",
                  {"s": after_seq, "i": after_id, "n": limit})
    items = []
    for row in rows:
        values, stamps = decode_profile(row)
        items.append({"phone": row["phone"], "values": values, "field_hlc": stamps})
    last = rows[-1] if rows else None
    return {"items": items, "next_seq": int(last["change_seq"]) if last else after_seq,
            "next_id": int(last["id"]) if last else after_id, "more": len(rows) == limit}


def hub_summary(db: Database) -> dict[str, Any]:
    return {"role": "hub", "agents": int(db.scalar("SELECT COUNT(*) FROM hub_agents WHERE active = 1") or 0)}
