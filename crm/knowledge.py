"""The knowledge base's operations: the seller's facts and quick replies, validated, stamped and announced.

Every write stamps the fields it sets with one HLC stamp (the team hub merges entries per field, last writer
wins, as for customer profiles) and publishes knowledge.changed after its transaction committed. The CSV
import/export and the quick replies' placeholder filling live here too; the routes only translate HTTP.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ai.builtin.normalize import find_order_number
from core import events
from core.clock import Clock, iso
from crm.customer_keys import key_of_chat
from storage import customers as customer_rows
from storage import knowledge as knowledge_rows
from storage.database import Database
from storage.sync_state import next_hlc

MAX_TITLE = 200
MAX_CONTENT = 4000
MAX_TAGS = 20
MAX_TAG = 50
LANGUAGES = ("pt", "en", "es")
SHORTCUT = re.compile(r"[a-z0-9_-]{1,32}")
CSV_HEADER = ("title", "content", "language", "tags", "shortcut")
IMPORT_MAX_ROWS = 5000
IMPORT_MAX_BYTES = 4 * 1024 * 1024  # api/security.py BODY_LIMIT_BY_PATH: 5,000 rows of ~800 characters
QUICK_REPLY_LIMIT = 20
ORDER_SCAN_MESSAGES = 50  # the newest messages of the chat searched for an order number


class KnowledgeError(ValueError):
    """An invalid field (field names it) or a refused change (code says which)."""

    def __init__(self, field: str, message: str, code: str = "validation_error", status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code
        self.status = status


class NoSuchEntry(KnowledgeError):
    def __init__(self) -> None:
        super().__init__("id", "knowledge entry not found", code="not_found", status=404)


class ShortcutTaken(KnowledgeError):
    def __init__(self, shortcut: str) -> None:
        super().__init__("shortcut", f"/{shortcut} is already the shortcut of another entry",
                         code="shortcut_taken", status=409)


# -- validation ----------------------------------------------------------------------------------------------

def normal_shortcut(value: Any) -> str | None:
    """A shortcut as stored: without the leading "/", lower-cased; None for no shortcut."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise KnowledgeError("shortcut", "must be a string")
    text = value.strip().removeprefix("/").lower()
    if not text:
        return None
    if not SHORTCUT.fullmatch(text):
        raise KnowledgeError("shortcut", "must be 1-32 letters, digits, _ or - (an optional leading /)")
    return text


def clean_fields(fields: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The editable fields, checked and normalised; KnowledgeError names the first bad field. partial: a
    PATCH (only the given fields); else title and content are required."""
    unknown = sorted(set(fields) - set(knowledge_rows.EDITABLE_FIELDS))
    if unknown:
        raise KnowledgeError(unknown[0], "unknown field")
    cleaned: dict[str, Any] = {}
    for name, limit in (("title", MAX_TITLE), ("content", MAX_CONTENT)):
        if name not in fields:
            if not partial:
                raise KnowledgeError(name, "required")
            continue
        value = fields[name]
        if not isinstance(value, str) or not value.strip():
            raise KnowledgeError(name, "must be a non-empty text")
        value = value.strip()
        if len(value) > limit:
            raise KnowledgeError(name, f"must have at most {limit} characters")
        cleaned[name] = value
    if "language" in fields:
        language = fields["language"] or None
        if language is not None and language not in LANGUAGES:
            raise KnowledgeError("language", f"must be one of {', '.join(LANGUAGES)} or null")
        cleaned["language"] = language
    if "tags" in fields:
        cleaned["tags"] = _clean_tags(fields["tags"])
    if "shortcut" in fields:
        cleaned["shortcut"] = normal_shortcut(fields["shortcut"])
    return cleaned


def _clean_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise KnowledgeError("tags", "must be a list of texts")
    unique = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if len(unique) > MAX_TAGS:
        raise KnowledgeError("tags", f"at most {MAX_TAGS} tags")
    if any(len(tag) > MAX_TAG or ";" in tag for tag in unique):
        raise KnowledgeError("tags", f"each tag at most {MAX_TAG} characters, without ';'")
    return unique


def present(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API, WebSocket and windows show it (docs: k15 contracts)."""
    return {name: entry[name] for name in ("id", "uid", "title", "content", "language", "tags", "shortcut",
                                           "created_at", "updated_at")}


# -- the operations --------------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


class KnowledgeBase:
    """The knowledge base of one database. Cheap to make: a route makes one per request."""

    def __init__(self, db: Database, clock: Clock, publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.db = db
        self.clock = clock
        self.publish = publish

    def get(self, entry_id: int) -> dict[str, Any]:
        entry = knowledge_rows.get_entry(self.db, entry_id)
        if entry is None:
            raise NoSuchEntry()
        return present(entry)

    def search(self, query: str | None, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = knowledge_rows.search_entries(self.db, query, limit, offset)
        return [present(row) for row in rows], total

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        values = clean_fields(fields, partial=False)
        with self.db.transaction():
            entry_id = self._insert(values)
        self.publish(events.KNOWLEDGE_CHANGED, {"id": entry_id, "action": "created"})
        return self.get(entry_id)

    def update(self, entry_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        values = clean_fields(changes, partial=True)
        with self.db.transaction():
            current = knowledge_rows.get_entry(self.db, entry_id)
            if current is None:
                raise NoSuchEntry()
            changed = {name: value for name, value in values.items() if current[name] != value}
            if changed:
                self._update(current, changed)
        if changed:
            self.publish(events.KNOWLEDGE_CHANGED, {"id": entry_id, "action": "updated"})
        return self.get(entry_id)

    def delete(self, entry_id: int) -> None:
        with self.db.transaction():
            if not knowledge_rows.delete_entry(self.db, entry_id, self._now()):
                raise NoSuchEntry()
        self.publish(events.KNOWLEDGE_CHANGED, {"id": entry_id, "action": "deleted"})

    # Writes in the caller's transaction: each set field gets this transaction's stamp.

    def _stamps(self, names: Any, current: dict[str, str] | None = None) -> dict[str, str]:
        stamp = next_hlc(self.db, int(self.clock.now().timestamp() * 1000))
        return {**(current or {}), **{name: stamp for name in names}}

    def _insert(self, values: dict[str, Any]) -> int:
        self._check_shortcut_free(values.get("shortcut"), None)
        return knowledge_rows.insert_entry(self.db, values, self._now(),
                                           field_hlc=self._stamps(knowledge_rows.EDITABLE_FIELDS))

    def _update(self, current: dict[str, Any], changed: dict[str, Any]) -> None:
        self._check_shortcut_free(changed.get("shortcut"), int(current["id"]))
        knowledge_rows.update_entry(self.db, int(current["id"]), changed, self._now(),
                                    field_hlc=self._stamps(changed, current["field_hlc"]))

    def _check_shortcut_free(self, shortcut: str | None, own_id: int | None) -> None:
        if shortcut is None:
            return
        holder = knowledge_rows.get_entry_by_shortcut(self.db, shortcut)
        if holder is not None and holder["id"] != own_id:
            raise ShortcutTaken(shortcut)

    def _now(self) -> str:
        return iso(self.clock.now())

    # -- CSV -------------------------------------------------------------------------------------------------

    def export_csv(self) -> str:
        """Every entry as CSV (header CSV_HEADER, tags joined by ';'), with a UTF-8 BOM so spreadsheet programs
        read the accents right; the import takes it back with or without the BOM."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for entry in knowledge_rows.all_entries(self.db):
            writer.writerow([entry["title"], entry["content"], entry["language"] or "", ";".join(entry["tags"]),
                             entry["shortcut"] or ""])
        return "\ufeff" + out.getvalue()

    def import_csv(self, body: bytes) -> ImportResult:
        """Upsert the rows of a CSV (by shortcut when the row has one, else by exact title) in one transaction;
        every bad row is reported by its line and the good ones are kept. KnowledgeError for a body that is not
        a CSV of this shape at all (not UTF-8, no title/content header, more than IMPORT_MAX_ROWS rows)."""
        rows = parse_csv(body)
        result = ImportResult()
        with self.db.transaction():
            for line, fields in rows:
                if "__error__" in fields:
                    result.errors.append({"line": line, "error": fields["__error__"]})
                    continue
                try:
                    outcome = self._upsert(fields)
                except KnowledgeError as exc:
                    result.errors.append({"line": line, "error": str(exc)})
                    continue
                setattr(result, outcome, getattr(result, outcome) + 1)
        if result.created or result.updated:
            self.publish(events.KNOWLEDGE_CHANGED, {"action": "imported", "created": result.created,
                                                    "updated": result.updated})
        return result

    def _upsert(self, fields: dict[str, Any]) -> str:
        values = clean_fields(fields, partial=False)
        shortcut = values.get("shortcut")
        if shortcut:
            current = knowledge_rows.get_entry_by_shortcut(self.db, shortcut)
        else:
            current = self.db.one("SELECT id FROM knowledge WHERE title = :t ORDER BY id LIMIT 1",
                                  {"t": values["title"]})
            current = knowledge_rows.get_entry(self.db, int(current["id"])) if current else None
        if current is None:
            self._insert(values)
            return "created"
        changed = {name: value for name, value in values.items() if current[name] != value}
        if not changed:
            return "unchanged"
        self._update(current, changed)
        return "updated"

    # -- quick replies ---------------------------------------------------------------------------------------

    def quick_replies(self, prefix: str, chat_id: str | None, default_region: str,
                      limit: int = QUICK_REPLY_LIMIT) -> list[dict[str, Any]]:
        """Entries whose shortcut starts with `prefix`, their text with the chat's placeholders filled."""
        prefix = prefix.strip().removeprefix("/").lower()
        if prefix and not SHORTCUT.fullmatch(prefix):
            return []  # no shortcut can start with it
        entries = knowledge_rows.entries_with_shortcut_prefix(self.db, prefix, limit)
        values = chat_placeholders(self.db, chat_id, default_region) if entries and chat_id else {}
        return [{"id": e["id"], "shortcut": e["shortcut"], "title": e["title"],
                 "text": fill_placeholders(e["content"], values)} for e in entries]


def parse_csv(body: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line where the record starts, its fields) per data row; tags split on ';'. A header written with ';'
    between the columns (spreadsheets in pt/es locales save so) is read with that delimiter."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KnowledgeError("body", "must be UTF-8 text") from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as exc:
        raise KnowledgeError("body", f"not a CSV: {exc}") from None
    if "title" not in header or "content" not in header:
        raise KnowledgeError("body", f"the first line must be the header {','.join(CSV_HEADER)}")
    unknown = [name for name in header if name not in CSV_HEADER]
    if unknown or len(set(header)) != len(header):
        raise KnowledgeError("body", f"header columns must be some of {','.join(CSV_HEADER)}, each once")
    rows: list[tuple[int, dict[str, Any]]] = []
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader, None)
        except csv.Error as exc:
            rows.append((line, {"__error__": f"not a CSV record: {exc}"}))
            break
        if record is None:
            break
        if any(cell.strip() for cell in record):
            if len(rows) >= IMPORT_MAX_ROWS:
                raise KnowledgeError("body", f"at most {IMPORT_MAX_ROWS} rows per import", code="too_many_rows",
                                     status=413)
            rows.append((line, _row_fields(header, record)))
        line = reader.line_num + 1
    return rows


def _row_fields(header: list[str], record: list[str]) -> dict[str, Any]:
    if len(record) != len(header):
        return {"__error__": f"has {len(record)} columns, the header {len(header)}"}
    fields: dict[str, Any] = dict(zip(header, record, strict=True))
    if "tags" in fields:
        fields["tags"] = [tag for tag in fields["tags"].split(";") if tag.strip()]
    return fields


# -- placeholders ------------------------------------------------------------------------------------------------

PLACEHOLDERS = ("name", "first_name", "order")


def chat_placeholders(db: Database, chat_id: str, default_region: str) -> dict[str, str]:
    """{name, first_name, order} known for a chat: its customer's name (the way the extension's panel finds the
    customer of a chat) and the newest order number quoted in it. Unknown values are left out."""
    conversation = db.one("SELECT id, customer_id FROM conversations WHERE chat_id = :c", {"c": chat_id})
    if conversation is not None:
        customer = customer_rows.get_customer(db, int(conversation["customer_id"]))
    else:
        key = key_of_chat(chat_id, default_region)
        customer = customer_rows.get_customer_by_phone(db, key) if key else None
    values: dict[str, str] = {}
    name = (customer or {}).get("name") or ""
    if any(ch.isalpha() for ch in name):  # a "name" that is only a phone number is no name to greet with
        values["name"] = " ".join(name.split())
        values["first_name"] = values["name"].split(" ", 1)[0]
    if conversation is not None:
        order = latest_order_number(db, int(conversation["id"]))
        if order:
            values["order"] = order
    return values


def latest_order_number(db: Database, conversation_id: int) -> str | None:
    rows = db.all("SELECT content FROM messages WHERE conversation_id = :c ORDER BY sent_at DESC, id DESC "
                  "LIMIT :n", {"c": conversation_id, "n": ORDER_SCAN_MESSAGES})
    for row in rows:
        number = find_order_number(row["content"] or "")
        if number:
            return number.lstrip("#")
    return None


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """text with {name}, {first_name} and {order} replaced by their values; a placeholder without a value goes
    with what only made sense around it, so the text still reads naturally:
    "Olá {first_name}!" -> "Olá!", "Oi, {name}, tudo bem?" -> "Oi, tudo bem?", "{first_name}, seu pedido
    #{order} saiu" -> "Seu pedido saiu". Other braces are left as they are."""
    for key in PLACEHOLDERS:
        token = "{" + key + "}"
        if token not in text:
            continue
        if values.get(key):
            text = text.replace(token, values[key])
            continue
        text = _drop_placeholder(text, key)
    return text


def _drop_placeholder(text: str, key: str) -> str:
    token = r"#?\{" + key + r"\}"
    # At the start of a line: the placeholder and its comma go, and the next word starts the sentence.
    text = re.sub(r"(?m)^([ \t]*)" + token + r"[ \t]*,?[ \t]*(\S?)",
                  lambda m: m.group(1) + m.group(2).upper(), text)
    # Before punctuation or the end of a line: the placeholder and the comma or spaces before it go.
    text = re.sub(r"[ \t]*,?[ \t]*" + token + r"(?=[ \t]*(?:[!?.,;:)]|$))", "", text, flags=re.MULTILINE)
    # Mid-sentence: the placeholder and the space before it go ("pedido {order} saiu" -> "pedido saiu").
    text = re.sub(r"[ \t]*" + token, "", text)
    return text
