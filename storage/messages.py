"""Messages and their analyses."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Database, Where
from storage.search import SEARCH_TOTAL_CAP, TOTAL_CAP, match_query

MESSAGE_COLUMNS = ("m.id, m.message_id, m.conversation_id, m.customer_id, m.direction, m.type, m.content, "
                   "m.language, m.media_url, m.sent_at, m.response_time_s, m.created_at, m.updated_at, "
                   "m.change_seq, cu.phone AS customer_phone, cu.name AS customer_name")


# What a replay is compared with (crm/capture.py): the fields a retrying extension sends again unchanged.
REPLAYED_FIELDS = ("content", "type", "direction")


def find_by_whatsapp_id(db: Database, message_id: str) -> dict[str, Any] | None:
    return db.one("SELECT id, conversation_id, customer_id, message_id, content, type, direction FROM messages "
                  "WHERE message_id = :m", {"m": message_id})


def find_many_by_whatsapp_id(db: Database, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """{WhatsApp message id: row} for the ids already stored, in one query."""
    if not message_ids:
        return {}
    params = {f"m{i}": message_id for i, message_id in enumerate(message_ids)}
    placeholders = ", ".join(f":{name}" for name in params)
    rows = db.all(f"SELECT id, conversation_id, customer_id, message_id, content, type, direction FROM messages "
                  f"WHERE message_id IN ({placeholders})", params)
    return {row["message_id"]: row for row in rows}


_INSERT_MESSAGE = (
    "INSERT INTO messages (message_id, conversation_id, customer_id, direction, type, content, language, "
    "media_url, raw, sent_at, response_time_s, created_at, updated_at, change_seq) VALUES (:message_id, "
    ":conversation_id, :customer_id, :direction, :type, :content, :language, :media_url, :raw, :sent_at, "
    ":response_time_s, :now, :now, :seq)")


def insert_message(db: Database, values: dict[str, Any]) -> int:
    return db.insert(_INSERT_MESSAGE, dict(values, seq=db.next_sequence()))


def insert_messages(db: Database, rows: list[dict[str, Any]]) -> dict[str, int]:
    """insert_message for a batch: one executemany, then the new ids in one indexed read. {message_id: id}."""
    if not rows:
        return {}
    seq = db.next_sequence()
    db.executemany(_INSERT_MESSAGE, [dict(row, seq=seq) for row in rows])
    params = {f"m{i}": row["message_id"] for i, row in enumerate(rows)}
    stored = db.all(f"SELECT id, message_id FROM messages WHERE message_id IN "
                    f"({', '.join(':' + k for k in params)})", params)
    return {row["message_id"]: int(row["id"]) for row in stored}


def record_replay_conflict(db: Database, stored: dict[str, Any], field: str, replayed_value: Any, now: str) -> None:
    """Record that a replay of a stored message carried another value for field (once per distinct value)."""
    replayed = None if replayed_value is None else str(replayed_value)
    digest = hashlib.sha256((replayed or "").encode()).hexdigest()
    db.execute(
        "INSERT INTO capture_conflicts (message_pk, message_id, field, stored_value, replayed_value, replayed_digest, "
        "created_at, updated_at) VALUES (:pk, :mid, :field, :stored, :replayed, :digest, :now, :now) "
        "ON CONFLICT (message_pk, field, replayed_digest) DO UPDATE SET times = capture_conflicts.times + 1, "
        "updated_at = :now",
        {"pk": stored["id"], "mid": stored["message_id"], "field": field, "stored": stored[field],
         "replayed": replayed, "digest": digest, "now": now})


def replay_conflicts(db: Database, message_pk: int) -> list[dict[str, Any]]:
    return db.all("SELECT field, stored_value, replayed_value, times, created_at, updated_at FROM capture_conflicts "
                  "WHERE message_pk = :pk ORDER BY id", {"pk": message_pk})


NO_CONTEXT = {"used": False, "previous": 0}


_INSERT_ANALYSIS = (
    "INSERT INTO ai_analysis (message_id, sentiment_label, sentiment_score, intent_label, intent_confidence, "
    "suggested_responses, confidence_scores, model_version, engine, language, latency_ms, context, knowledge, "
    "created_at, updated_at, change_seq) VALUES (:mid, :sl, :ss, :il, :ic, :sr, :cs, :mv, :en, :lang, :lat, :ctx, "
    ":kn, :now, :now, :seq)")


def _analysis_values(message_pk: int | None, analysis: dict[str, Any], now: str, seq: int) -> dict[str, Any]:
    return {"mid": message_pk, "sl": analysis["sentiment"]["label"], "ss": analysis["sentiment"]["score"],
            "il": analysis["intent"]["label"], "ic": analysis["intent"]["confidence"],
            "sr": orjson.dumps(analysis["suggested_responses"]).decode(),
            "cs": orjson.dumps(analysis["confidence_scores"]).decode(), "mv": analysis["model_version"],
            "en": analysis["engine"], "lang": analysis.get("language"), "lat": analysis.get("latency_ms"),
            "ctx": orjson.dumps(analysis["context"]).decode() if analysis.get("context") is not None else None,
            "kn": orjson.dumps(analysis["knowledge"]).decode() if analysis.get("knowledge") else None,
            "now": now, "seq": seq}


def insert_analysis(db: Database, message_pk: int | None, analysis: dict[str, Any], now: str) -> int:
    return db.insert(_INSERT_ANALYSIS, _analysis_values(message_pk, analysis, now, db.next_sequence()))


def insert_analyses(db: Database, analyses: list[tuple[int, dict[str, Any]]], now: str) -> None:
    """Insert (message pk, analysis) pairs with one executemany (the trigger of migration 15 runs per row)."""
    if not analyses:
        return
    seq = db.next_sequence()
    db.executemany(_INSERT_ANALYSIS, [_analysis_values(pk, analysis, now, seq) for pk, analysis in analyses])


def latest_analysis_ids(db: Database, message_pks: list[int]) -> dict[int, int]:
    """{message pk: id of its latest analysis}, in one indexed read (ix_analysis_message)."""
    if not message_pks:
        return {}
    params = {f"m{i}": pk for i, pk in enumerate(message_pks)}
    rows = db.all(f"SELECT message_id, MAX(id) AS id FROM ai_analysis WHERE message_id IN "
                  f"({', '.join(':' + k for k in params)}) GROUP BY message_id", params)
    return {int(r["message_id"]): int(r["id"]) for r in rows}


# A message stored with its analysis pending (an older message of a history import, crm/analysis_backfill.py) has
# no ai_analysis row yet, so no sentiment on its row: migration 17's partial index holds exactly those.
PENDING_ANALYSIS = "m.sentiment IS NULL AND NOT EXISTS (SELECT 1 FROM ai_analysis a WHERE a.message_id = m.id)"


def pending_analysis(db: Database, limit: int) -> list[dict[str, Any]]:
    """The oldest `limit` messages stored without an analysis, with what their analysis and its effects need."""
    return db.all(
        "SELECT m.id, m.conversation_id, m.customer_id, m.direction, m.type, m.content, m.sent_at, c.chat_id, "
        "cu.kind AS customer_kind, cu.name AS customer_name, cu.phone AS customer_phone FROM messages m "
        "INDEXED BY ix_messages_analysis_pending JOIN conversations c ON c.id = m.conversation_id "
        f"JOIN customers cu ON cu.id = m.customer_id WHERE {PENDING_ANALYSIS} ORDER BY m.id LIMIT :n", {"n": limit})


def pending_analysis_count(db: Database) -> int:
    return int(db.scalar(f"SELECT COUNT(*) FROM messages m INDEXED BY ix_messages_analysis_pending "
                         f"WHERE {PENDING_ANALYSIS}") or 0)


def already_analysed(db: Database, message_pks: list[int]) -> set[int]:
    """Which of these messages have an analysis row (one written meanwhile by another path)."""
    if not message_pks:
        return set()
    params = {f"m{i}": pk for i, pk in enumerate(message_pks)}
    rows = db.all(f"SELECT DISTINCT message_id FROM ai_analysis WHERE message_id IN "
                  f"({', '.join(':' + k for k in params)})", params)
    return {int(r["message_id"]) for r in rows}


def set_languages(db: Database, languages: list[tuple[int, str]], now: str) -> None:
    """The language an analysis detected, on the message row (with a change sequence: the hub gets it)."""
    if not languages:
        return
    seq = db.next_sequence()
    db.executemany("UPDATE messages SET language = :lang, updated_at = :now, change_seq = :seq WHERE id = :id",
                   [{"id": pk, "lang": language, "now": now, "seq": seq} for pk, language in languages])


def conversation_rows_between(db: Database, conversation_ids: list[int], since: str, until: str,
                              limit: int) -> list[dict[str, Any]]:
    """The messages of these conversations sent in [since, until], by (sent_at, id), each with its latest intent
    (NULL while its analysis is pending): the windows of a backfill chunk in one ix_messages_conversation read."""
    if not conversation_ids:
        return []
    params: dict[str, Any] = {f"c{i}": cid for i, cid in enumerate(conversation_ids)}
    placeholders = ", ".join(":" + k for k in params)
    params.update({"since": since, "until": until, "limit": limit})
    return db.all(
        "SELECT m.conversation_id, m.id, m.direction, SUBSTR(m.content, 1, 240) AS content, m.sent_at, m.intent "
        f"FROM messages m WHERE m.conversation_id IN ({placeholders}) AND m.sent_at >= :since "
        "AND m.sent_at <= :until ORDER BY m.sent_at, m.id LIMIT :limit", params)


def inbound_after(db: Database, conversation_id: int, since: str, until: str) -> list[dict[str, Any]]:
    """The analysed inbound messages of a conversation sent in (since, until], oldest first, for the status
    evidence a late analysis of an earlier message may complete (a purchase followed by its payment)."""
    return db.all(
        "SELECT m.id, m.conversation_id, m.customer_id, m.direction, m.content, m.language, m.sent_at, m.intent, "
        "c.chat_id, cu.kind AS customer_kind FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "JOIN customers cu ON cu.id = m.customer_id WHERE m.conversation_id = :c AND m.direction = 'in' "
        "AND m.sent_at > :since AND m.sent_at <= :until AND m.intent IS NOT NULL ORDER BY m.sent_at, m.id",
        {"c": conversation_id, "since": since, "until": until})


def analysis_from_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "sentiment": {"label": row["sentiment_label"], "score": row["sentiment_score"]},
        "intent": {"label": row["intent_label"], "confidence": row["intent_confidence"]},
        "suggested_responses": orjson.loads(row["suggested_responses"]),
        "confidence_scores": orjson.loads(row["confidence_scores"]),
        "model_version": row["model_version"],
        "engine": row["engine"],
        "language": row["language"],
        "latency_ms": row["latency_ms"],
        # Analyses stored before migration 13 (or by an engine that read no window) had no context.
        "context": orjson.loads(row["context"]) if row.get("context") else dict(NO_CONTEXT),
        # The entry the first suggestion's fact came from (migration 14); None when nothing answered.
        "knowledge": orjson.loads(row["knowledge"]) if row.get("knowledge") else None,
        "created_at": row["created_at"],
    }


def latest_analysis(db: Database, message_pk: int) -> dict[str, Any] | None:
    row = db.one("SELECT * FROM ai_analysis WHERE message_id = :m ORDER BY id DESC LIMIT 1", {"m": message_pk})
    return analysis_from_row(row) if row else None


def analyses_for(db: Database, message_pks: list[int]) -> dict[int, dict[str, Any]]:
    """The latest analysis of each message, in one query."""
    if not message_pks:
        return {}
    placeholders = ", ".join(f":m{i}" for i in range(len(message_pks)))
    params = {f"m{i}": pk for i, pk in enumerate(message_pks)}
    rows = db.all(f"SELECT a.* FROM ai_analysis a WHERE a.id IN (SELECT MAX(id) FROM ai_analysis "
                  f"WHERE message_id IN ({placeholders}) GROUP BY message_id)", params)
    return {int(r["message_id"]): analysis_from_row(r) for r in rows}


def window_rows(db: Database, chat_ids: list[str], since: str, until: str, limit: int) -> list[dict[str, Any]]:
    """The messages of these chats sent in [since, until), oldest first, each with its latest intent: the
    conversation windows of a capture batch in one query (conversations by their unique chat_id, then the
    ix_messages_conversation range per conversation; the latest intent is on the row since migration 15)."""
    if not chat_ids:
        return []
    placeholders = ", ".join(f":c{i}" for i in range(len(chat_ids)))
    params: dict[str, Any] = {f"c{i}": chat_id for i, chat_id in enumerate(chat_ids)}
    params.update({"since": since, "until": until, "limit": limit})
    return db.all(
        "SELECT c.chat_id, m.id, m.direction, SUBSTR(m.content, 1, 240) AS content, m.sent_at, m.intent "
        f"FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE c.chat_id IN ({placeholders}) "
        "AND m.sent_at >= :since AND m.sent_at < :until ORDER BY m.sent_at DESC, m.id DESC LIMIT :limit", params)[::-1]


def has_intent_between(db: Database, conversation_id: int, intent: str, direction: str, since: str,
                       until: str) -> bool:
    """Whether a message of this conversation in [since, until], from that side, has this latest intent (the
    ix_messages_conversation range; the latest intent is on the row since migration 15)."""
    return db.scalar(
        "SELECT 1 FROM messages m WHERE m.conversation_id = :c AND m.direction = :d AND m.sent_at >= :since "
        "AND m.sent_at <= :until AND m.intent = :intent LIMIT 1",
        {"c": conversation_id, "d": direction, "since": since, "until": until, "intent": intent}) is not None


def get_message(db: Database, message_pk: int) -> dict[str, Any] | None:
    return db.one(f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN customers cu ON cu.id = m.customer_id "
                  "WHERE m.id = :id", {"id": message_pk})


class AnchorGone(LookupError):
    """The message a keyset page starts before no longer exists (deleted by retention): start from the top."""


@dataclass(frozen=True)
class MessagePage:
    rows: list[dict[str, Any]]
    total: int  # at most TOTAL_CAP (SEARCH_TOTAL_CAP for a search)
    total_capped: bool  # True when there are more rows than that
    next_before: int | None  # the `before` of the next page, None on the last page


def list_messages(db: Database, *, conversation_id: int | None, customer_id: int | None, since: str | None,
                  until: str | None, direction: str | None, search: str | None, sentiment: str | None,
                  intent: str | None, limit: int, offset: int = 0, before: int | None = None) -> MessagePage:
    """A page of messages, newest first (by sent_at; by id, newest captured first, when searching: the order FTS5
    gives without reading every match). `before` (a message id) is the keyset: the page starts after that
    message in the list's order, so deep pages cost what the first does; `offset` still works for old clients.

    Sentiment and intent filter on the latest analysis copied onto the row (migration 15) by their indexes.
    """
    where = (Where(limit=limit, offset=offset)
             .add("m.conversation_id = :conv", conv=conversation_id)
             .add("m.customer_id = :cust", cust=customer_id)
             .add("m.sent_at >= :since", since=since)
             .add("m.sent_at < :until", until=until)
             .add("m.direction = :dir", dir=direction)
             .add("m.sentiment = :sent", sent=sentiment)
             .add("m.intent = :intent", intent=intent))
    if search is not None and search.strip():
        return _search_page(db, where, search, before)
    count_clause = where.sql
    if before is not None:
        anchor = db.one("SELECT sent_at, id FROM messages WHERE id = :id", {"id": before})
        if anchor is None:
            raise AnchorGone(before)
        where.add("(m.sent_at, m.id) < (:before_sent, :before_id)", before_sent=anchor["sent_at"],
                  before_id=anchor["id"])
    rows = db.all(f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN customers cu ON cu.id = m.customer_id "
                  f"WHERE {where.sql} ORDER BY m.sent_at DESC, m.id DESC LIMIT :limit + 1 OFFSET :offset",
                  where.params)
    count = _capped_count(db, f"SELECT 1 FROM messages m WHERE {count_clause}", where.params)
    return _page(rows, count, limit)


def _search_page(db: Database, where: Where, search: str, before: int | None) -> MessagePage:
    query = match_query(search)
    if query is None:  # only punctuation: nothing a word could match
        return MessagePage([], 0, False, None)
    filtered = bool(where.clauses)
    where.add("messages_fts MATCH :fts", fts=query)
    count_clause = where.sql
    where.add("f.rowid < :before", before=before)
    rows = db.all(f"SELECT {MESSAGE_COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid "
                  f"JOIN customers cu ON cu.id = m.customer_id WHERE {where.sql} ORDER BY f.rowid DESC "
                  "LIMIT :limit + 1 OFFSET :offset", where.params)
    # The index alone counts the words' matches; the messages are read only when another filter needs them.
    matching = (f"SELECT 1 FROM messages_fts f JOIN messages m ON m.id = f.rowid WHERE {count_clause}" if filtered
                else "SELECT 1 FROM messages_fts WHERE messages_fts MATCH :fts")
    count = _capped_count(db, matching, where.params, SEARCH_TOTAL_CAP)
    return _page(rows, count, where.params["limit"], SEARCH_TOTAL_CAP)


def _capped_count(db: Database, matching: str, params: dict[str, Any], cap: int = TOTAL_CAP) -> int:
    """How many rows `matching` selects, counting no further than cap + 1."""
    return int(db.scalar(f"SELECT COUNT(*) FROM ({matching} LIMIT {cap + 1})", params) or 0)


def _page(rows: list[dict[str, Any]], count: int, limit: int, cap: int = TOTAL_CAP) -> MessagePage:
    """rows: up to limit + 1. The extra row only says that another page exists, so `next` is None on the last page
    even when it is full and the total is capped (a capped count cannot say where the list ends)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return MessagePage(rows, min(count, cap), count > cap, rows[-1]["id"] if more else None)
