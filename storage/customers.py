"""Customers and conversations: upserts from captures, listing, profile reads and edits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.clock import iso, parse_iso
from storage.database import Database, Where, like_contains
from storage.migrations import ACTIVE_CONVERSATION
from storage.profiles import SHARED_FIELDS
from storage.search import SEARCH_TOTAL_CAP, TOTAL_CAP, match_query
from storage.sync_state import DELETED, record_tombstones

CUSTOMER_COLUMNS = ("id, phone, kind, name, email, tags, custom_fields, status, language, first_contact_at, "
                    "last_contact_at, messages_in, messages_out, created_at, updated_at, change_seq")


def customer_from_row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["key"] = row["phone"]  # E.164, or the JID of a lid or group customer (row["kind"] says which)
    row["tags"] = json.loads(row["tags"] or "[]")
    row["custom_fields"] = json.loads(row["custom_fields"] or "{}")
    return row


# A customer created or touched by messages sent between :first and :last (:i inbound, :o outbound): one message
# (upsert_customer_on_message) or a batch's messages of one customer (upsert_customers_on_messages).
_UPSERT_CUSTOMER = (
    "INSERT INTO customers (phone, kind, name, language, first_contact_at, last_contact_at, messages_in, "
    "messages_out, created_at, updated_at, change_seq) VALUES (:phone, :kind, :name, :lang, :first, :last, "
    ":i, :o, :now, :now, :seq) ON CONFLICT (phone) DO UPDATE SET "
    "name = COALESCE(customers.name, excluded.name), "
    "language = COALESCE(excluded.language, customers.language), "
    "first_contact_at = CASE WHEN customers.first_contact_at IS NULL OR excluded.first_contact_at < "
    "customers.first_contact_at THEN excluded.first_contact_at ELSE customers.first_contact_at END, "
    "last_contact_at = CASE WHEN customers.last_contact_at IS NULL OR excluded.last_contact_at > "
    "customers.last_contact_at THEN excluded.last_contact_at ELSE customers.last_contact_at END, "
    "messages_in = customers.messages_in + excluded.messages_in, "
    "messages_out = customers.messages_out + excluded.messages_out, "
    "updated_at = excluded.updated_at, change_seq = excluded.change_seq "
    "RETURNING id, messages_in + messages_out AS total")


def upsert_customer_on_message(db: Database, *, phone: str, name: str | None, language: str | None,
                               direction: str, sent_at: str, now: str, kind: str = "phone") -> tuple[int, bool]:
    """Create or touch the customer of a captured message in one statement. Returns (customer id, created).

    phone is the customer's key (E.164, or the JID of a lid or group customer; kind says which, and is set
    only when the row is created). The WhatsApp display name fills an empty name only: a name the user
    typed is never replaced. A customer is new when this message is its first one.
    """
    inbound, outbound = (1, 0) if direction == "in" else (0, 1)
    row = db.execute(_UPSERT_CUSTOMER, {
        "phone": phone, "kind": kind, "name": name, "lang": language if direction == "in" else None,
        "first": sent_at, "last": sent_at, "i": inbound, "o": outbound, "now": now,
        "seq": db.next_sequence()}).fetchone()
    return int(row["id"]), int(row["total"]) == 1


@dataclass
class CustomerTouch:
    """What one batch's messages do to one customer (upsert_customers_on_messages), gathered in batch order."""

    key: str
    kind: str
    name: str | None = None  # the first name the batch brings: it fills an empty name only
    language: str | None = None  # the last language of an inbound message (COALESCE: it replaces the stored one)
    messages_in: int = 0
    messages_out: int = 0
    first_sent: str = ""
    last_sent: str = ""

    def add(self, *, name: str | None, language: str | None, direction: str, sent_at: str) -> None:
        if self.name is None:
            self.name = name
        if direction == "in":
            self.messages_in += 1
            self.language = language if language is not None else self.language
        else:
            self.messages_out += 1
        self.first_sent = min(self.first_sent, sent_at) if self.first_sent else sent_at
        self.last_sent = max(self.last_sent, sent_at)


def upsert_customers_on_messages(db: Database, touches: list[CustomerTouch], now: str) -> dict[str, tuple[int, int]]:
    """upsert_customer_on_message for a batch: one statement per distinct customer, with the same result as one per
    message in batch order. Returns {key: (customer id, its message count before the batch)}."""
    found = {}
    for t in touches:
        row = db.execute(_UPSERT_CUSTOMER, {
            "phone": t.key, "kind": t.kind, "name": t.name, "lang": t.language, "first": t.first_sent,
            "last": t.last_sent, "i": t.messages_in, "o": t.messages_out, "now": now,
            "seq": db.next_sequence()}).fetchone()
        found[t.key] = (int(row["id"]), int(row["total"]) - t.messages_in - t.messages_out)
    return found


def upsert_conversations_on_messages(db: Database, chats: dict[str, tuple[int, list[tuple[str, str]]]],
                                     now: str) -> dict[str, tuple[int, list[str | None]]]:
    """upsert_conversation_on_message for a batch: {chat_id: (the customer of its first message, [(direction,
    sent_at)] in batch order)} -> {chat_id: (conversation id, the wait start each message answered)}.

    One read of the batch's conversations, the per-message CASEs of upsert_conversation_on_message replayed here
    in batch order, then one statement per conversation writing the result: the same rows and response times as
    one statement per message.
    """
    if not chats:
        return {}
    params = {f"c{i}": chat_id for i, chat_id in enumerate(chats)}
    stored = {row["chat_id"]: row for row in db.all(
        "SELECT chat_id, status, started_at, last_message_at, awaiting_reply_since FROM conversations "
        f"WHERE chat_id IN ({', '.join(':' + k for k in params)})", params)}
    found = {}
    for chat_id, (customer_id, messages) in chats.items():
        state, waits = _replay_conversation(stored.get(chat_id), messages)
        row = db.execute(
            "INSERT INTO conversations (chat_id, customer_id, status, started_at, last_message_at, "
            "awaiting_reply_since, replied_wait_since, message_count, created_at, updated_at, change_seq) VALUES "
            "(:c, :cust, :status, :started, :last, :awaiting, :replied, :n, :now, :now, :seq) "
            "ON CONFLICT (chat_id) DO UPDATE SET status = excluded.status, started_at = excluded.started_at, "
            "last_message_at = excluded.last_message_at, awaiting_reply_since = excluded.awaiting_reply_since, "
            "replied_wait_since = excluded.replied_wait_since, "
            "message_count = conversations.message_count + excluded.message_count, "
            "updated_at = excluded.updated_at, change_seq = excluded.change_seq RETURNING id",
            {"c": chat_id, "cust": customer_id, **state, "n": len(messages), "now": now,
             "seq": db.next_sequence()}).fetchone()
        found[chat_id] = (int(row["id"]), waits)
    return found


def _replay_conversation(stored: dict[str, Any] | None,
                         messages: list[tuple[str, str]]) -> tuple[dict[str, Any], list[str | None]]:
    """The SET expressions of upsert_conversation_on_message, message after message (each sees the row as the
    previous one left it). Returns the final row's values and the wait start each message answered."""
    waits: list[str | None] = []
    state: dict[str, Any] | None = None
    if stored is not None:
        state = {"status": stored["status"], "started": stored["started_at"], "last": stored["last_message_at"],
                 "awaiting": stored["awaiting_reply_since"], "replied": None}
    for direction, sent in messages:
        if state is None:  # the INSERT: a new conversation
            state = {"status": "open", "started": sent, "last": sent,
                     "awaiting": sent if direction == "in" else None, "replied": None}
            waits.append(None)
            continue
        awaiting = state["awaiting"]
        answered = direction == "out" and awaiting is not None and sent >= awaiting
        state = {"status": "open" if state["status"] == "closed" and direction == "in" else state["status"],
                 "started": sent if sent < state["started"] else state["started"],
                 "last": sent if sent > state["last"] else state["last"],
                 "awaiting": (awaiting if awaiting is not None else sent) if direction == "in"
                 else None if answered else awaiting,
                 "replied": awaiting if answered else None}
        waits.append(state["replied"])
    assert state is not None
    return state, waits


def fill_languages(db: Database, languages: dict[int, str], now: str) -> None:
    """{customer id: language} for customers that have none yet (a history import's analyses, after the answer:
    the newest message, analysed at capture, already set the language of a customer it names)."""
    if not languages:
        return
    seq = db.next_sequence()
    db.executemany("UPDATE customers SET language = :lang, updated_at = :now, change_seq = :seq "
                   "WHERE id = :id AND language IS NULL",
                   [{"id": cid, "lang": language, "now": now, "seq": seq} for cid, language in languages.items()])


def ensure_customer(db: Database, *, key: str, kind: str, name: str | None, now: str) -> int:
    """The id of the customer with this key, created without messages when missing (a group's own
    pseudo-customer on a received message); a name fills an empty one."""
    row = db.one("SELECT id, name FROM customers WHERE phone = :k", {"k": key})
    if row is None:
        return db.insert("INSERT INTO customers (phone, kind, name, created_at, updated_at, change_seq) VALUES "
                         "(:k, :kind, :name, :now, :now, :seq)",
                         {"k": key, "kind": kind, "name": name, "now": now, "seq": db.next_sequence()})
    if row["name"] is None and name:
        db.execute("UPDATE customers SET name = :name, updated_at = :now, change_seq = :seq WHERE id = :id",
                   {"name": name, "now": now, "seq": db.next_sequence(), "id": row["id"]})
    return int(row["id"])


def aliased_key(db: Database, key: str) -> str | None:
    """The key of the customer a merged-away key (a @lid JID) now points to, or None."""
    return db.scalar("SELECT t.phone FROM customers s JOIN customers t ON t.id = s.merged_into "
                     "WHERE s.phone = :k AND s.kind = 'merged'", {"k": key})


def merge_customer(db: Database, *, source_key: str, target_key: str, target_kind: str, now: str) -> bool:
    """Fold the live customer keyed source_key (a @lid JID) into the one keyed target_key (its phone),
    inside the caller's transaction. Returns False when there was nothing to merge.

    Messages and conversations move, counters add up, first/last contact widen, and the target keeps its
    own name, email, tags and status, taking the source's only where it has none; the source row stays
    behind as kind 'merged' pointing at the target. When the target does not exist yet the source is
    simply re-keyed (its history makes the phone customer not new) and the caller records the @lid key
    with remember_merged_key.
    """
    source = db.one("SELECT id, name, email, language, tags, status, first_contact_at, last_contact_at, "
                    "messages_in, messages_out FROM customers WHERE phone = :k AND kind <> 'merged'",
                    {"k": source_key})
    if source is None:
        return False
    target_id = db.scalar("SELECT id FROM customers WHERE phone = :k", {"k": target_key})
    seq = db.next_sequence()
    if target_id is None:
        db.execute("UPDATE customers SET phone = :t, kind = :kind, updated_at = :now, change_seq = :seq "
                   "WHERE id = :id", {"t": target_key, "kind": target_kind, "now": now, "seq": seq,
                                      "id": source["id"]})
        return True
    params = {"s": source["id"], "t": target_id, "now": now, "seq": seq}
    for table in ("messages", "conversations"):
        db.execute(f"UPDATE {table} SET customer_id = :t, updated_at = :now, change_seq = :seq "
                   "WHERE customer_id = :s", params)
    db.execute(
        "UPDATE customers SET messages_in = messages_in + :mi, messages_out = messages_out + :mo, "
        "first_contact_at = CASE WHEN first_contact_at IS NULL OR :first < first_contact_at THEN :first "
        "ELSE first_contact_at END, "
        "last_contact_at = CASE WHEN last_contact_at IS NULL OR :last > last_contact_at THEN :last "
        "ELSE last_contact_at END, "
        "name = COALESCE(name, :name), email = COALESCE(email, :email), language = COALESCE(language, :lang), "
        "tags = CASE WHEN tags = '[]' THEN :tags ELSE tags END, "
        "status = CASE WHEN status = 'lead' THEN :status ELSE status END, "
        "updated_at = :now, change_seq = :seq WHERE id = :t",
        {**params, "mi": source["messages_in"], "mo": source["messages_out"], "first": source["first_contact_at"],
         "last": source["last_contact_at"], "name": source["name"], "email": source["email"],
         "lang": source["language"], "tags": source["tags"], "status": source["status"]})
    db.execute("UPDATE customers SET kind = 'merged', merged_into = :t, messages_in = 0, messages_out = 0, "
               "updated_at = :now, change_seq = :seq WHERE id = :s", params)
    return True


def delete_customer(db: Database, key: str, now: str) -> dict[str, int] | None:
    """Delete the customer with this key (following a merged @lid alias) and everything captured about it: its
    conversations, its messages and those of its conversations (a group's), their analyses, and the @lid keys
    that led to it. One transaction, which also writes a tombstone per row for the team hub. Returns how many
    rows of each table went, or None when there is no such customer."""
    with db.transaction():
        customer_id = db.scalar("SELECT CASE WHEN kind = 'merged' THEN merged_into ELSE id END FROM customers "
                                "WHERE phone = :k", {"k": key})
        if customer_id is None:
            return None
        c = {"c": customer_id}
        conversations = [r["id"] for r in db.all("SELECT id FROM conversations WHERE customer_id = :c", c)]
        messages = [r["id"] for r in db.all(
            "SELECT id FROM messages WHERE customer_id = :c "
            "OR conversation_id IN (SELECT id FROM conversations WHERE customer_id = :c)", c)]
        analyses = [r["id"] for r in db.all(
            "SELECT a.id FROM ai_analysis a JOIN messages m ON m.id = a.message_id WHERE m.customer_id = :c "
            "OR m.conversation_id IN (SELECT id FROM conversations WHERE customer_id = :c)", c)]
        customers = [r["id"] for r in db.all("SELECT id FROM customers WHERE merged_into = :c", c)] + [customer_id]
        # Children first: the foreign keys point from analyses to messages to conversations to customers.
        for table, ids in (("ai_analysis", analyses), ("messages", messages), ("conversations", conversations),
                           ("customers", customers)):
            _delete_ids(db, table, ids)
            record_tombstones(db, table, ids, DELETED, now)
    return {"customers": len(customers), "conversations": len(conversations), "messages": len(messages),
            "ai_analysis": len(analyses)}


def _delete_ids(db: Database, table: str, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):  # SQLite allows 32,766 parameters; 500 keeps each statement small
        chunk = ids[start:start + 500]
        params = {f"i{i}": row_id for i, row_id in enumerate(chunk)}
        db.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(':' + k for k in params)})", params)


def remember_merged_key(db: Database, key: str, customer_id: int, now: str) -> None:
    """Make key (a @lid JID) lead to this customer from now on: a 'merged' row holding the key.

    One statement, and a no-op when the key already leads there (the usual case on every capture of a
    @lid chat that carries its phone). The key is never a live customer here: merge_customer ran first.
    """
    db.execute("INSERT INTO customers (phone, kind, merged_into, created_at, updated_at, change_seq) VALUES "
               "(:k, 'merged', :c, :now, :now, :seq) ON CONFLICT (phone) DO UPDATE SET merged_into = "
               "excluded.merged_into, updated_at = excluded.updated_at, change_seq = excluded.change_seq "
               "WHERE customers.merged_into IS NULL OR customers.merged_into <> excluded.merged_into",
               {"k": key, "c": customer_id, "now": now, "seq": db.next_sequence()})


def upsert_conversation_on_message(db: Database, *, chat_id: str, customer_id: int, direction: str,
                                   sent_at: str, now: str) -> tuple[int, str | None]:
    """Create or advance the conversation in one statement. Returns (id, wait start the message answered).

    The response time of an outbound message is measured from the first inbound message it answers: an
    inbound message starts the wait when none is pending, the next outbound message ends it. The SET
    expressions all see the row as it was, so replied_wait_since receives the wait this message ended.
    """
    row = db.execute(
        "INSERT INTO conversations (chat_id, customer_id, status, started_at, last_message_at, "
        "awaiting_reply_since, replied_wait_since, message_count, created_at, updated_at, change_seq) VALUES "
        "(:c, :cust, 'open', :sent, :sent, CASE WHEN :dir = 'in' THEN :sent END, NULL, 1, :now, :now, :seq) "
        "ON CONFLICT (chat_id) DO UPDATE SET "
        "last_message_at = CASE WHEN excluded.last_message_at > conversations.last_message_at "
        "THEN excluded.last_message_at ELSE conversations.last_message_at END, "
        "started_at = CASE WHEN excluded.started_at < conversations.started_at THEN excluded.started_at "
        "ELSE conversations.started_at END, "
        "awaiting_reply_since = CASE WHEN :dir = 'in' THEN COALESCE(conversations.awaiting_reply_since, :sent) "
        "WHEN conversations.awaiting_reply_since IS NOT NULL AND :sent >= conversations.awaiting_reply_since "
        "THEN NULL ELSE conversations.awaiting_reply_since END, "
        "replied_wait_since = CASE WHEN :dir = 'out' AND conversations.awaiting_reply_since IS NOT NULL "
        "AND :sent >= conversations.awaiting_reply_since THEN conversations.awaiting_reply_since END, "
        "message_count = conversations.message_count + 1, "
        "status = CASE WHEN conversations.status = 'closed' AND :dir = 'in' THEN 'open' "
        "ELSE conversations.status END, "
        "updated_at = excluded.updated_at, change_seq = excluded.change_seq "
        "RETURNING id, replied_wait_since",
        {"c": chat_id, "cust": customer_id, "sent": sent_at, "dir": direction, "now": now,
         "seq": db.next_sequence()}).fetchone()
    return int(row["id"]), row["replied_wait_since"]


def get_customer_by_phone(db: Database, phone: str) -> dict[str, Any] | None:
    """The customer with this key (E.164 or JID), following the alias of a merged @lid key."""
    columns = f"{CUSTOMER_COLUMNS}, merged_into"
    row = db.one(f"SELECT {columns} FROM customers WHERE phone = :p", {"p": phone})
    if row is not None and row["kind"] == "merged":
        row = db.one(f"SELECT {columns} FROM customers WHERE id = :id", {"id": row["merged_into"]})
    if row is None:
        return None
    row.pop("merged_into")
    return customer_from_row(row)


def customer_total(db: Database) -> int:
    """Customers as the dashboard counts them (not groups, not merged @lid keys): the row_counts row migration 15's
    triggers keep on SQLite, a count on PostgreSQL."""
    if db.is_sqlite:
        return int(db.scalar("SELECT value FROM row_counts WHERE name = 'customers'") or 0)
    return int(db.scalar("SELECT COUNT(*) FROM customers WHERE kind IN ('phone', 'lid')") or 0)


def active_conversation_count(db: Database, since: str) -> int:
    """Open or pending conversations whose last message is at or after `since` (the stored ISO form).

    On SQLite: migration 18's conversation_hours for the whole hours after since's hour, and the index range for the
    part of that hour after since, so the cost follows the hours counted, not the conversations in them. A count on
    PostgreSQL."""
    active_since = f"SELECT COUNT(*) FROM conversations WHERE {ACTIVE_CONVERSATION} AND last_message_at >= :a"
    if not db.is_sqlite:
        return int(db.scalar(active_since, {"a": since}) or 0)
    hour = since[:13]  # "2026-12-07T21"
    next_hour = iso(parse_iso(f"{hour}:00:00Z") + timedelta(hours=1))
    whole = db.scalar("SELECT COALESCE(SUM(active), 0) FROM conversation_hours WHERE hour > :h", {"h": hour})
    partial = db.scalar(f"{active_since} AND last_message_at < :b", {"a": since, "b": next_hour})
    return int(whole or 0) + int(partial or 0)


def get_customer(db: Database, customer_id: int) -> dict[str, Any] | None:
    row = db.one(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = :id", {"id": customer_id})
    return customer_from_row(row) if row else None


def searches_words(search: str | None) -> bool:
    """Whether list_customers matches this search by words (names, emails: newest customers first) rather than
    by part of a phone, WhatsApp key or email address (last contacted first)."""
    return bool(search and search.strip()) and any(ch.isalpha() for ch in search) and "@" not in search


def list_customers(db: Database, *, search: str | None, status: str | None, limit: int,
                   offset: int, kind: str | None = None) -> tuple[list[dict[str, Any]], int, bool]:
    """(a page of customers, their total up to TOTAL_CAP (SEARCH_TOTAL_CAP when searching), whether there are more
    than that), last contacted first.

    A search with a letter in it matches names and emails by their words (customers_fts: accents and case folded,
    "joao" finds "João"), newest customers first: the order FTS5 streams, so a common surname costs what a rare one
    does. One without a letter (digits, "+", spaces) or with an "@" matches part of the phone number, the WhatsApp key
    or the email address."""
    where = (Where(limit=limit, offset=offset)
             .add("c.status = :status", status=status)
             .add("c.kind = :kind", kind=kind))
    if not kind:
        where.clauses.append("c.kind <> 'merged'")  # a merged @lid key is a pointer, not a customer
    source, order, cap = "customers c", "c.last_contact_at DESC, c.id DESC", TOTAL_CAP
    if search and search.strip():
        cap = SEARCH_TOTAL_CAP
        if searches_words(search):
            source, order = "customers_fts f JOIN customers c ON c.id = f.rowid", "f.rowid DESC"
            where.add("customers_fts MATCH :fts", fts=match_query(search))
        else:  # a phone, a WhatsApp key (…@lid, …@g.us) or an email address: part of it, by a scan
            where.add("(c.phone LIKE :q ESCAPE '\\' OR c.email LIKE :q ESCAPE '\\')", q=like_contains(search.strip()))
    clause, params = where.sql, where.params
    count = int(db.scalar(f"SELECT COUNT(*) FROM (SELECT 1 FROM {source} WHERE {clause} LIMIT {cap + 1})",
                          params) or 0)
    rows = db.all(f"SELECT {_QUALIFIED_CUSTOMER_COLUMNS} FROM {source} WHERE {clause} ORDER BY {order} "
                  "LIMIT :limit OFFSET :offset", params)
    return [customer_from_row(r) for r in rows], min(count, cap), count > cap


_QUALIFIED_CUSTOMER_COLUMNS = ", ".join(f"c.{column.strip()}" for column in CUSTOMER_COLUMNS.split(","))


def patch_customer(db: Database, phone: str, changes: dict[str, Any], now: str, stamp: str = "") -> bool:
    """Apply the given fields; returns False when the customer does not exist.

    stamp (an HLC, see storage/hlc.py) marks each edited shared profile field as edited now, so team sync
    resolves concurrent edits by last writer.
    """
    current = db.one("SELECT field_hlc FROM customers WHERE phone = :p", {"p": phone})
    if current is None:
        return False
    if not changes:
        return True
    values = dict(changes)
    for key in ("tags", "custom_fields"):
        if key in values:
            values[key] = json.dumps(values[key], ensure_ascii=False)
    if stamp:
        stamps = _json_object(current["field_hlc"])
        stamps.update({field: stamp for field in changes if field in SHARED_FIELDS})
        values["field_hlc"] = json.dumps(stamps, sort_keys=True)
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    values.update({"now": now, "seq": db.next_sequence(), "phone": phone})
    cur = db.execute(f"UPDATE customers SET {assignments}, updated_at = :now, change_seq = :seq "
                     "WHERE phone = :phone", values)
    return cur.rowcount > 0


def status_and_stamps(db: Database, customer_id: int) -> tuple[str, str, dict[str, Any]] | None:
    """(key, status, field stamps) of a customer, for the status-from-evidence step."""
    row = db.one("SELECT phone, status, field_hlc FROM customers WHERE id = :id", {"id": customer_id})
    return (row["phone"], row["status"], _json_object(row["field_hlc"])) if row else None


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def recent_conversations(db: Database, customer_id: int, limit: int = 10) -> list[dict[str, Any]]:
    return db.all("SELECT id, chat_id, status, started_at, last_message_at, message_count FROM conversations "
                  "WHERE customer_id = :c ORDER BY last_message_at DESC LIMIT :n", {"c": customer_id, "n": limit})


def sentiment_trend(db: Database, customer_id: int, since: str) -> list[dict[str, Any]]:
    """Average sentiment score per day of the customer's inbound messages since a date."""
    return db.all(
        "SELECT substr(m.sent_at, 1, 10) AS day, AVG(a.sentiment_score) AS score, COUNT(*) AS messages "
        "FROM messages m JOIN ai_analysis a ON a.message_id = m.id "
        "WHERE m.customer_id = :c AND m.sent_at >= :since AND m.direction = 'in' "
        "AND a.id = (SELECT MAX(id) FROM ai_analysis WHERE message_id = m.id) "
        "GROUP BY substr(m.sent_at, 1, 10) ORDER BY day", {"c": customer_id, "since": since})


def top_intents(db: Database, customer_id: int, limit: int = 5) -> list[dict[str, Any]]:
    return db.all(
        "SELECT m.intent AS intent, COUNT(*) AS count FROM messages m WHERE m.customer_id = :c "
        "AND m.direction = 'in' AND m.intent IS NOT NULL GROUP BY m.intent ORDER BY count DESC, intent LIMIT :n",
        {"c": customer_id, "n": limit})


CONVERSATION_COLUMNS = ("c.id, c.chat_id, c.customer_id, c.status, c.started_at, c.last_message_at, "
                        "c.awaiting_reply_since, c.message_count, c.created_at, c.updated_at, c.change_seq, "
                        "cu.phone AS customer_phone, cu.name AS customer_name")


def get_conversation(db: Database, conversation_id: int) -> dict[str, Any] | None:
    return db.one(f"SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN customers cu "
                  "ON cu.id = c.customer_id WHERE c.id = :id", {"id": conversation_id})


def list_conversations(db: Database, *, status: str | None, customer_id: int | None, limit: int,
                       offset: int) -> tuple[list[dict[str, Any]], int]:
    where = (Where(limit=limit, offset=offset)
             .add("c.status = :status", status=status)
             .add("c.customer_id = :cid", cid=customer_id))
    clause, params = where.sql, where.params
    total = int(db.scalar(f"SELECT COUNT(*) FROM conversations c WHERE {clause}", params) or 0)
    rows = db.all(f"SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN customers cu "
                  f"ON cu.id = c.customer_id WHERE {clause} ORDER BY c.last_message_at DESC, c.id DESC "
                  "LIMIT :limit OFFSET :offset", params)
    return rows, total


def set_conversation_status(db: Database, conversation_id: int, status: str, now: str) -> str | None:
    """Set the status; returns the previous one, or None when the conversation does not exist."""
    previous = db.scalar("SELECT status FROM conversations WHERE id = :id", {"id": conversation_id})
    if previous is None:
        return None
    db.execute("UPDATE conversations SET status = :s, updated_at = :now, change_seq = :seq WHERE id = :id",
               {"s": status, "now": now, "seq": db.next_sequence(), "id": conversation_id})
    return str(previous)
