"""The agent's side of team sync: cursors, batches of changed rows, the HLC state, profile merges, conflicts.

The push cursor is the last change_seq the hub acknowledged. It moves only after the hub's 2xx answer, in a
transaction of its own, so a crash at any point leaves it at or behind what the hub holds: the next push
repeats at most one batch, which the hub's upserts absorb.
"""

from __future__ import annotations

import json
from typing import Any

from storage import hlc as hlc_clock
from storage.database import Database
from storage.profiles import SHARED_FIELDS, Conflict, merge

# knowledge: the team's shared knowledge base (merged by uid on the hub and pulled back, storage/knowledge.py).
SYNCED_TABLES = ("customers", "conversations", "messages", "ai_analysis", "knowledge")
TOMBSTONES = "sync_tombstones"
# Each row a batch reads comes from one of these, by change_seq: the synced tables and the deletions' tombstones.
PUSHED_SOURCES = (*SYNCED_TABLES, TOMBSTONES)
JSON_FIELDS = ("tags", "custom_fields")
# Why a row left an agent: deleted by a person, folded into another customer (a @lid key become an alias), or
# removed by the retention of old messages.
DELETED, MERGED, RETENTION = "deleted", "merged", "retention"
# Columns derived on this agent and not pushed: the latest analysis copied onto messages (migration 15); the hub
# has the analyses themselves, and an analysis written later does not touch the message's change_seq.
LOCAL_COLUMNS = {"messages": ("sentiment", "intent")}


def read_state(db: Database) -> dict[str, Any]:
    return db.one("SELECT node_id, hlc, push_cursor, pull_seq, pull_id, knowledge_pull_seq, knowledge_pull_uid, "
                  "last_success_at, last_attempt_at, last_error, last_error_at FROM sync_state WHERE id = 1") or {}


def pending_rows(db: Database, cursor: int | None = None) -> int:
    """Rows changed since the hub's last acknowledgement (an index range count per table)."""
    if cursor is None:
        cursor = int(db.scalar("SELECT push_cursor FROM sync_state WHERE id = 1") or 0)
    return sum(int(db.scalar(f"SELECT COUNT(*) FROM {table} WHERE change_seq > :c", {"c": cursor}) or 0)
               for table in PUSHED_SOURCES)


def record_tombstones(db: Database, table: str, row_ids: list[int], reason: str, now: str,
                      uids: dict[int, str] | None = None) -> None:
    """Remember that these rows of a synced table were deleted, inside the deleting transaction: the hub is told
    at the next push, in change_seq order with every other change. uids: the team-wide key of each row, for a
    table that has one (knowledge): the hub and the other agents know the row by it, not by this agent's id."""
    assert table in SYNCED_TABLES and db.in_transaction
    if not row_ids:
        return
    seq = db.next_sequence()
    db.executemany("INSERT INTO sync_tombstones (table_name, row_id, reason, uid, created_at, updated_at, change_seq) "
                   "VALUES (:t, :id, :r, :uid, :now, :now, :seq)",
                   [{"t": table, "id": row_id, "r": reason, "uid": (uids or {}).get(row_id), "now": now, "seq": seq}
                    for row_id in row_ids])


def pushed_row(source: str, row: dict[str, Any]) -> dict[str, Any]:
    """One row of a push: a synced table's row as it is, or a tombstone ("deleted": why). A customer merged into
    another is only an alias on this agent (customers.kind 'merged'): the hub is told it is gone."""
    if source == TOMBSTONES:
        data = {"uid": row["uid"]} if row.get("uid") else {}
        return {"t": row["table_name"], "id": int(row["row_id"]), "seq": int(row["change_seq"]), "data": data,
                "deleted": row["reason"]}
    if source == "customers" and row.get("kind") == "merged":
        return {"t": source, "id": int(row["id"]), "seq": int(row["change_seq"]),
                "data": {"merged_into": row.get("merged_into")}, "deleted": MERGED}
    for column in LOCAL_COLUMNS.get(source, ()):
        row.pop(column, None)
    return {"t": source, "id": int(row["id"]), "seq": int(row["change_seq"]), "data": row}


def next_batch(db: Database, cursor: int, limit: int) -> tuple[list[dict[str, Any]], int] | None:
    """The next rows to push and the change_seq they complete: (rows, upto), or None when nothing is pending.

    Every row of a transaction carries its change_seq, so a batch ends on a whole sequence number: the hub's
    acknowledgement of `upto` then means every row with change_seq <= upto arrived. Up to `limit` rows are
    read per table; a table whose page is full may hold more rows of its last sequence number, so the batch
    stops just before it. Reads run in one transaction: one consistent snapshot across the tables.
    """
    with db.transaction():
        pages = {table: db.all(f"SELECT * FROM {table} WHERE change_seq > :c ORDER BY change_seq, id LIMIT :n",
                               {"c": cursor, "n": limit}) for table in PUSHED_SOURCES}
        found = [row["change_seq"] for rows in pages.values() for row in rows]
        if not found:
            return None
        full_pages = [rows[-1]["change_seq"] for rows in pages.values() if len(rows) == limit]
        upto = min(full_pages) - 1 if full_pages else max(found)
        if upto < min(found):
            # One transaction wrote more than `limit` rows to a table: send that transaction whole.
            upto = min(found)
            pages = {table: db.all(f"SELECT * FROM {table} WHERE change_seq = :s", {"s": upto})
                     for table in PUSHED_SOURCES}
    rows = [pushed_row(table, row) for table, page in pages.items() for row in page if row["change_seq"] <= upto]
    return rows, int(upto)


def advance_push_cursor(db: Database, upto: int) -> None:
    """Record the hub's acknowledgement; never moves the cursor back (a slower concurrent sync may ack less).
    Tombstones the hub acknowledged are done with: the hub keeps its own marker of each deleted row."""
    with db.transaction():
        db.execute("UPDATE sync_state SET push_cursor = CASE WHEN push_cursor < :u THEN :u ELSE push_cursor END "
                   "WHERE id = 1", {"u": upto})
        db.execute("DELETE FROM sync_tombstones WHERE change_seq <= :u", {"u": upto})


def record_attempt(db: Database, now: str) -> None:
    with db.transaction():
        db.execute("UPDATE sync_state SET last_attempt_at = :t WHERE id = 1", {"t": now})


def record_success(db: Database, now: str) -> None:
    with db.transaction():
        db.execute("UPDATE sync_state SET last_success_at = :t, last_error = NULL, last_error_at = NULL "
                   "WHERE id = 1", {"t": now})


def record_error(db: Database, message: str, now: str) -> None:
    with db.transaction():
        db.execute("UPDATE sync_state SET last_error = :e, last_error_at = :t WHERE id = 1",
                   {"e": message[:500], "t": now})


# -- the hybrid logical clock ---------------------------------------------------------------------------

def next_hlc(db: Database, now_ms: int) -> str:
    """A new stamp for a local edit, later than every stamp this database issued or saw (in a transaction)."""
    state = db.one("SELECT node_id, hlc FROM sync_state WHERE id = 1")
    stamp = hlc_clock.tick(state["hlc"], now_ms, state["node_id"])
    db.execute("UPDATE sync_state SET hlc = :h WHERE id = 1", {"h": stamp})
    return stamp


def observe_hlc(db: Database, stamps: list[str]) -> None:
    """Move the clock past stamps seen from elsewhere, so local edits made later win against them."""
    if not stamps:
        return
    last = db.scalar("SELECT hlc FROM sync_state WHERE id = 1") or ""
    latest = hlc_clock.observe(last, max(stamps))
    if latest != last:
        db.execute("UPDATE sync_state SET hlc = :h WHERE id = 1", {"h": latest})


# -- shared profiles ---------------------------------------------------------------------------------

def decode_profile(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(field values, field stamps) of a customers row, JSON columns decoded; bad JSON reads as empty."""
    values = {field: row.get(field) for field in SHARED_FIELDS}
    for field, empty in (("tags", []), ("custom_fields", {})):
        values[field] = _loads(values[field], empty)
    stamps = _loads(row.get("field_hlc"), {})
    stamps = {k: v for k, v in stamps.items() if isinstance(v, str) and hlc_clock.is_valid(v)} \
        if isinstance(stamps, dict) else {}
    return values, stamps


def _loads(text: Any, empty: Any) -> Any:
    if not isinstance(text, str):
        return empty
    try:
        value = json.loads(text)
    except ValueError:
        return empty
    return value if isinstance(value, type(empty)) else empty


def encode_field(field: str, value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if field in JSON_FIELDS else value


def write_profile_changes(db: Database, customer_id: int, changes: dict[str, Any], stamps: dict[str, str],
                          now: str) -> None:
    values = {f"v_{field}": encode_field(field, value) for field, value in changes.items()}
    assignments = "".join(f"{field} = :v_{field}, " for field in changes)
    db.execute(f"UPDATE customers SET {assignments}field_hlc = :h, updated_at = :now, change_seq = :seq "
               "WHERE id = :id", {**values, "h": json.dumps(stamps, sort_keys=True), "now": now,
                                  "seq": db.next_sequence(), "id": customer_id})


def insert_profile(db: Database, phone: str, values: dict[str, Any], stamps: dict[str, str], now: str) -> None:
    """A customer known so far only from the team (no message on this machine yet)."""
    db.execute(
        "INSERT INTO customers (phone, name, email, tags, custom_fields, status, field_hlc, created_at, updated_at, "
        "change_seq) VALUES (:p, :name, :email, :tags, :cf, :status, :h, :now, :now, :seq) "
        "ON CONFLICT (phone) DO NOTHING",
        {"p": phone, "name": values.get("name"), "email": values.get("email"),
         "tags": json.dumps(values.get("tags") or [], ensure_ascii=False),
         "cf": json.dumps(values.get("custom_fields") or {}, ensure_ascii=False),
         "status": values.get("status") or "lead", "h": json.dumps(stamps, sort_keys=True), "now": now,
         "seq": db.next_sequence()})


def record_conflicts(db: Database, phone: str, conflicts: list[Conflict], now: str) -> None:
    """Keep each losing value once (the same loss seen again, e.g. on a repeated push, is not a new row)."""
    for c in conflicts:
        db.execute(
            "INSERT INTO sync_conflicts (phone, field, losing_value, losing_hlc, winning_value, winning_hlc, "
            "created_at, updated_at, change_seq) VALUES (:p, :f, :lv, :lh, :wv, :wh, :now, :now, :seq) "
            "ON CONFLICT (phone, field, losing_hlc, winning_hlc) DO NOTHING",
            {"p": phone, "f": c.field, "lv": json.dumps(c.losing_value, ensure_ascii=False), "lh": c.losing_hlc,
             "wv": json.dumps(c.winning_value, ensure_ascii=False), "wh": c.winning_hlc, "now": now,
             "seq": db.next_sequence()})


def apply_hub_profiles(db: Database, items: list[dict[str, Any]], next_cursor: tuple[int, int], now: str) -> int:
    """Merge profiles pulled from the hub (last writer wins per field) and move the pull cursor, atomically.

    Returns how many local customers changed. The local side keeps what it lost in sync_conflicts.
    """
    changed = 0
    items = [item for item in items if is_phone_key(item["phone"])]  # shared profiles are per phone (E.164)
    with db.transaction():
        phones = [item["phone"] for item in items]
        params = {f"p{i}": phone for i, phone in enumerate(phones)}
        local = {row["phone"]: row for row in db.all(
            f"SELECT id, phone, {', '.join(SHARED_FIELDS)}, field_hlc FROM customers "
            f"WHERE phone IN ({', '.join(':' + k for k in params) or 'NULL'})", params)}
        seen: list[str] = []
        for item in items:
            incoming, incoming_hlc = item["values"], item["field_hlc"]
            seen.extend(incoming_hlc.values())
            row = local.get(item["phone"])
            if row is None:
                insert_profile(db, item["phone"], incoming, incoming_hlc, now)
                changed += 1
                continue
            current, current_hlc = decode_profile(row)
            result = merge(current, current_hlc, incoming, incoming_hlc, incoming_fills_unstamped=True)
            if result.changes or result.hlc != current_hlc:
                write_profile_changes(db, int(row["id"]), result.changes, result.hlc, now)
                changed += 1
            record_conflicts(db, item["phone"], result.conflicts, now)
        observe_hlc(db, seen)
        db.execute("UPDATE sync_state SET pull_seq = :s, pull_id = :i WHERE id = 1",
                   {"s": next_cursor[0], "i": next_cursor[1]})
    return changed


def is_phone_key(key: str) -> bool:
    """An E.164 customer key; the others are JIDs of @lid and group customers, kept local to each agent."""
    return key.startswith("+")


def list_conflicts(db: Database, limit: int) -> list[dict[str, Any]]:
    rows = db.all("SELECT id, phone, field, losing_value, losing_hlc, winning_value, winning_hlc, created_at "
                  "FROM sync_conflicts ORDER BY id DESC LIMIT :n", {"n": limit})
    for row in rows:
        for key in ("losing_value", "winning_value"):
            row[key] = _loads_any(row[key])
    return rows


def _loads_any(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text
