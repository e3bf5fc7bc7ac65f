"""The knowledge table: the seller's facts and quick replies (one row per entry).

Rows are returned as dicts with `tags` decoded to a list. Every write takes a change_seq (the team hub push
reads by it); Callers hold the transaction.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from storage.database import Database
from storage.profiles import merge
from storage.sync_state import DELETED, next_hlc, observe_hlc, record_tombstones

EDITABLE_FIELDS = ("title", "content", "language", "tags", "shortcut")
_COLUMNS = "id, uid, title, content, language, tags, shortcut, field_hlc, created_at, updated_at, change_seq"


def _decoded(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    entry = dict(row)
    entry["tags"] = _json_list(entry.get("tags"))
    entry["field_hlc"] = _json_object(entry.get("field_hlc"))
    return entry


def _json_list(value: Any) -> list[str]:
    try:
        decoded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [str(item) for item in decoded] if isinstance(decoded, list) else []


def _json_object(value: Any) -> dict[str, str]:
    try:
        decoded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {}


def _encoded(fields: dict[str, Any]) -> dict[str, Any]:
    values = {name: fields[name] for name in EDITABLE_FIELDS if name in fields}
    if "tags" in values:
        values["tags"] = json.dumps(list(values["tags"] or []), ensure_ascii=False)
    return values


def insert_entry(db: Database, fields: dict[str, Any], now: str, uid: str | None = None,
                 field_hlc: dict[str, str] | None = None) -> int:
    """A new entry (title and content required by the caller's validation); returns its id."""
    values = {"title": "", "content": "", "language": None, "tags": [], "shortcut": None, **fields}
    params = {**_encoded(values), "uid": uid or uuid.uuid4().hex, "hlc": json.dumps(field_hlc or {}, sort_keys=True),
              "now": now, "seq": db.next_sequence()}
    return db.insert("INSERT INTO knowledge (uid, title, content, language, tags, shortcut, field_hlc, created_at, "
                     "updated_at, change_seq) VALUES (:uid, :title, :content, :language, :tags, :shortcut, :hlc, "
                     ":now, :now, :seq)", params)


def update_entry(db: Database, entry_id: int, fields: dict[str, Any], now: str,
                 field_hlc: dict[str, str] | None = None) -> bool:
    """Change the given fields of an entry; False when it does not exist."""
    values = _encoded(fields)
    assignments = [f"{name} = :{name}" for name in values]
    params: dict[str, Any] = {**values, "id": entry_id, "now": now, "seq": db.next_sequence()}
    if field_hlc is not None:
        assignments.append("field_hlc = :hlc")
        params["hlc"] = json.dumps(field_hlc, sort_keys=True)
    assignments += ["updated_at = :now", "change_seq = :seq"]
    cur = db.execute(f"UPDATE knowledge SET {', '.join(assignments)} WHERE id = :id", params)
    return cur.rowcount > 0


def delete_entry(db: Database, entry_id: int, now: str) -> bool:
    """Delete an entry and leave a sync tombstone naming its uid (in the caller's transaction, so the hub is
    told at the next push); False when it does not exist."""
    uid = db.scalar("SELECT uid FROM knowledge WHERE id = :id", {"id": entry_id})
    if uid is None:
        return False
    db.execute("DELETE FROM knowledge WHERE id = :id", {"id": entry_id})
    record_tombstones(db, "knowledge", [entry_id], DELETED, now, uids={entry_id: uid})
    return True


def get_entry(db: Database, entry_id: int) -> dict[str, Any] | None:
    return _decoded(db.one(f"SELECT {_COLUMNS} FROM knowledge WHERE id = :id", {"id": entry_id}))


def get_entry_by_uid(db: Database, uid: str) -> dict[str, Any] | None:
    return _decoded(db.one(f"SELECT {_COLUMNS} FROM knowledge WHERE uid = :uid", {"uid": uid}))


def get_entry_by_shortcut(db: Database, shortcut: str) -> dict[str, Any] | None:
    return _decoded(db.one(f"SELECT {_COLUMNS} FROM knowledge WHERE shortcut = :s", {"s": shortcut}))


def all_entries(db: Database) -> list[dict[str, Any]]:
    """Every entry, by id (the retrieval index is built from these)."""
    return [_decoded(row) for row in db.all(f"SELECT {_COLUMNS} FROM knowledge ORDER BY id")]  # type: ignore[misc]


def search_entries(db: Database, query: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of entries whose title, content, tags or shortcut contain `query` (all when empty), and the total."""
    where, params = "", {"limit": limit, "offset": offset}
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = ("WHERE LOWER(title) LIKE :q ESCAPE '\\' OR LOWER(content) LIKE :q ESCAPE '\\' "
                 "OR LOWER(tags) LIKE :q ESCAPE '\\' OR LOWER(COALESCE(shortcut, '')) LIKE :q ESCAPE '\\'")
        params["q"] = f"%{escaped}%"
    total = int(db.scalar(f"SELECT COUNT(*) FROM knowledge {where}", params) or 0)
    rows = db.all(f"SELECT {_COLUMNS} FROM knowledge {where} ORDER BY title, id LIMIT :limit OFFSET :offset", params)
    return [_decoded(row) for row in rows], total  # type: ignore[misc]


def entries_with_shortcut_prefix(db: Database, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Quick replies whose shortcut starts with `prefix` (case-insensitive), shortest shortcut first."""
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.all(f"SELECT {_COLUMNS} FROM knowledge WHERE shortcut IS NOT NULL AND LOWER(shortcut) LIKE :p "
                  "ESCAPE '\\' ORDER BY LENGTH(shortcut), shortcut LIMIT :limit", {"p": f"{escaped}%", "limit": limit})
    return [_decoded(row) for row in rows]  # type: ignore[misc]


def count_entries(db: Database) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM knowledge") or 0)


# -- team sync: the hub merges pushed entries by uid, agents pull the team's entries back ----------------------

def decode_pushed(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(field values, field stamps) of a knowledge row as an agent pushes it (tags and field_hlc as JSON text)."""
    values = {name: data.get(name) for name in EDITABLE_FIELDS}
    values["tags"] = _json_list(data.get("tags"))
    return values, _json_object(data.get("field_hlc"))


def _editable(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: entry.get(name) for name in EDITABLE_FIELDS}


def _epoch_ms(now: str) -> int:
    return int(datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp() * 1000)


def _free_shortcut(db: Database, shortcut: str | None, uid: str, now: str) -> None:
    """Clear `shortcut` from the entry of another uid holding it (shortcuts are unique per database): used when
    an entry from elsewhere takes it, the hub's answer being the team's."""
    if not shortcut:
        return
    holder = get_entry_by_shortcut(db, shortcut)
    if holder is not None and holder["uid"] != uid:
        update_entry(db, int(holder["id"]), {"shortcut": None}, now)


def merge_entry(db: Database, uid: str, incoming: dict[str, Any], incoming_hlc: dict[str, str], now: str, *,
                incoming_fills_unstamped: bool, keep_local_shortcut: bool) -> str | None:
    """Fold one entry from elsewhere into this database, last writer wins per field (in the caller's transaction).

    Returns "created", "updated" or None (nothing changed). keep_local_shortcut: on the hub, a shortcut another
    entry holds already stays with that entry and the incoming one loses it; on an agent, the hub's answer wins
    and the local holder loses it.
    """
    current = get_entry_by_uid(db, uid)
    if current is None:
        values = dict(incoming)
        values["title"] = values.get("title") or ""
        values["content"] = values.get("content") or ""
        result_hlc = incoming_hlc
        action = "created"
    else:
        result = merge(_editable(current), current["field_hlc"], incoming, incoming_hlc,
                       incoming_fills_unstamped=incoming_fills_unstamped, fields=EDITABLE_FIELDS)
        if not result.changes and result.hlc == current["field_hlc"]:
            return None
        values, result_hlc, action = result.changes, result.hlc, "updated"
    shortcut = values.get("shortcut")
    if shortcut:
        holder = get_entry_by_shortcut(db, shortcut)
        if holder is not None and holder["uid"] != uid:
            if keep_local_shortcut:
                # A newer stamp than the incoming one: the agent that sent it follows the hub and drops it too.
                values["shortcut"] = None
                result_hlc = {**result_hlc, "shortcut": next_hlc(db, _epoch_ms(now))}
            else:
                _free_shortcut(db, shortcut, uid, now)
    if current is None:
        insert_entry(db, values, now, uid=uid, field_hlc=result_hlc)
    else:
        update_entry(db, int(current["id"]), values, now, field_hlc=result_hlc)
    return action


def apply_hub_entries(db: Database, items: list[dict[str, Any]], next_cursor: tuple[int, str],
                      now: str) -> dict[str, int]:
    """Merge the team's entries pulled from the hub (and delete the ones the team deleted), and move the pull
    cursor, in one transaction. A pulled deletion leaves no tombstone: the hub knows already."""
    counts = {"created": 0, "updated": 0, "deleted": 0}
    seen: list[str] = []
    with db.transaction():
        for item in items:
            uid = item["uid"]
            if item.get("deleted"):
                cur = db.execute("DELETE FROM knowledge WHERE uid = :uid", {"uid": uid})
                counts["deleted"] += 1 if cur.rowcount > 0 else 0
                continue
            seen.extend(item["field_hlc"].values())
            action = merge_entry(db, uid, item["values"], item["field_hlc"], now, incoming_fills_unstamped=True,
                                 keep_local_shortcut=False)
            if action:
                counts[action] += 1
        observe_hlc(db, seen)
        db.execute("UPDATE sync_state SET knowledge_pull_seq = :s, knowledge_pull_uid = :u WHERE id = 1",
                   {"s": next_cursor[0], "u": next_cursor[1]})
    return counts


def merge_pushed_entries(db: Database, rows: list[dict[str, Any]], now: str) -> None:
    """On the hub: fold an agent's pushed knowledge rows and deletions into the team's knowledge base (in the
    push's transaction). A deleted uid stays deleted: a later push of the entry (an agent that edited it
    before it heard of the deletion) does not bring it back."""
    if not rows:
        return
    db.next_sequence()  # the change_sequence row's lock first, as for profiles: concurrent pushes merge in turn
    seen: list[str] = []
    for row in rows:
        data = row["data"]
        uid = data.get("uid")
        if not isinstance(uid, str) or not uid:
            continue
        if row.get("deleted"):
            db.execute("DELETE FROM knowledge WHERE uid = :uid", {"uid": uid})
            db.execute("INSERT INTO knowledge_deletions (uid, created_at, updated_at, change_seq) "
                       "VALUES (:uid, :now, :now, :seq) ON CONFLICT (uid) DO NOTHING",
                       {"uid": uid, "now": now, "seq": db.next_sequence()})
            continue
        if db.scalar("SELECT 1 FROM knowledge_deletions WHERE uid = :uid", {"uid": uid}):
            continue
        incoming, incoming_hlc = decode_pushed(data)
        seen.extend(incoming_hlc.values())
        merge_entry(db, uid, incoming, incoming_hlc, now, incoming_fills_unstamped=False, keep_local_shortcut=True)
    observe_hlc(db, seen)


def hub_entries_since(db: Database, after_seq: int, after_uid: str, limit: int) -> dict[str, Any]:
    """On the hub: the team's entries and deletions changed after the cursor (change_seq, uid), oldest first.

    Entries and deletions share the hub's change sequence and a uid is in one table or the other, so the pair
    is an exact cursor across both: rows of one hub transaction share a change_seq and are ordered by uid.
    """
    params = {"s": after_seq, "u": after_uid, "n": limit}
    after = "(change_seq > :s OR (change_seq = :s AND uid > :u))"
    rows = db.all(f"SELECT uid, title, content, language, tags, shortcut, field_hlc, change_seq, 0 AS deleted "
                  f"FROM knowledge WHERE {after} UNION ALL "
                  f"SELECT uid, NULL, NULL, NULL, NULL, NULL, NULL, change_seq, 1 AS deleted "
                  f"FROM knowledge_deletions WHERE {after} ORDER BY change_seq, uid LIMIT :n", params)
    items: list[dict[str, Any]] = []
    for row in rows:
        if row["deleted"]:
            items.append({"uid": row["uid"], "deleted": True})
            continue
        values, stamps = decode_pushed(row)
        items.append({"uid": row["uid"], "values": values, "field_hlc": stamps, "deleted": False})
    last = rows[-1] if rows else None
    return {"items": items, "next_seq": int(last["change_seq"]) if last else after_seq,
            "next_uid": last["uid"] if last else after_uid, "more": len(rows) == limit}
