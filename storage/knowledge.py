"""The knowledge table: the seller's facts and quick replies (one row per entry).

Rows are returned as dicts with `tags` decoded to a list. Every write takes a change_seq (the team hub push
reads by it); Callers hold the transaction.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from storage.database import Database

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
    """Delete an entry; False when it does not exist."""
    cur = db.execute("DELETE FROM knowledge WHERE id = :id", {"id": entry_id})
    return cur.rowcount > 0


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
