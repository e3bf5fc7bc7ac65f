"""Versioned, forward-only schema migrations recorded in schema_version.

Each step is a function of the Database; it runs in its own transaction, and the version is recorded in
the same transaction, so a crash mid-migration leaves the previous version intact. The same steps build
the hub's PostgreSQL schema ({pk} and {ts} are the dialect's types).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from storage.database import Database
from storage.search import create_search_tables, rebuild_search

log = logging.getLogger(__name__)

# Every synced row has created_at/updated_at (ISO 8601 UTC) and change_seq, a number that only grows.
_ROW_META = "created_at TEXT NOT NULL, updated_at TEXT NOT NULL, change_seq BIGINT NOT NULL"


def _v1_initial(db: Database) -> None:
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    db.executescript(f"""
    CREATE TABLE users (
        id {pk}, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
        role TEXT NOT NULL DEFAULT 'agent', active INTEGER NOT NULL DEFAULT 1, last_login_at TEXT, {_ROW_META});
    CREATE TABLE customers (
        id {pk}, phone TEXT NOT NULL UNIQUE, name TEXT, email TEXT,
        tags TEXT NOT NULL DEFAULT '[]', custom_fields TEXT NOT NULL DEFAULT '{{}}',
        status TEXT NOT NULL DEFAULT 'lead', language TEXT,
        first_contact_at TEXT, last_contact_at TEXT,
        messages_in INTEGER NOT NULL DEFAULT 0, messages_out INTEGER NOT NULL DEFAULT 0, {_ROW_META});
    CREATE TABLE conversations (
        id {pk}, chat_id TEXT NOT NULL UNIQUE, customer_id BIGINT NOT NULL REFERENCES customers(id),
        status TEXT NOT NULL DEFAULT 'open', started_at TEXT NOT NULL, last_message_at TEXT NOT NULL,
        awaiting_reply_since TEXT, message_count INTEGER NOT NULL DEFAULT 0, {_ROW_META});
    CREATE TABLE messages (
        id {pk}, message_id TEXT NOT NULL UNIQUE, conversation_id BIGINT NOT NULL REFERENCES conversations(id),
        customer_id BIGINT NOT NULL REFERENCES customers(id), direction TEXT NOT NULL, type TEXT NOT NULL,
        content TEXT NOT NULL, language TEXT, media_url TEXT, raw TEXT, sent_at TEXT NOT NULL,
        response_time_s REAL, {_ROW_META});
    CREATE TABLE ai_analysis (
        id {pk}, message_id BIGINT REFERENCES messages(id), sentiment_label TEXT NOT NULL,
        sentiment_score REAL NOT NULL, intent_label TEXT NOT NULL, intent_confidence REAL NOT NULL,
        suggested_responses TEXT NOT NULL, confidence_scores TEXT NOT NULL, model_version TEXT NOT NULL,
        engine TEXT NOT NULL, language TEXT, latency_ms REAL, {_ROW_META});
    CREATE TABLE system_logs (
        id {pk}, level TEXT NOT NULL, logger TEXT NOT NULL, message TEXT NOT NULL, context TEXT, {_ROW_META});
    CREATE TABLE change_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
    INSERT INTO change_sequence (id, value) VALUES (1, 0);
    CREATE TABLE metrics_hourly (
        hour TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (hour, name));
    CREATE INDEX ix_messages_conversation ON messages (conversation_id, sent_at);
    CREATE INDEX ix_messages_customer ON messages (customer_id, sent_at);
    CREATE INDEX ix_messages_sent_at ON messages (sent_at);
    CREATE INDEX ix_messages_change_seq ON messages (change_seq);
    CREATE INDEX ix_analysis_message ON ai_analysis (message_id, id);
    CREATE INDEX ix_analysis_change_seq ON ai_analysis (change_seq);
    CREATE INDEX ix_customers_last_contact ON customers (last_contact_at);
    CREATE INDEX ix_customers_created ON customers (created_at);
    CREATE INDEX ix_customers_name ON customers (name);
    CREATE INDEX ix_customers_change_seq ON customers (change_seq);
    CREATE INDEX ix_conversations_customer ON conversations (customer_id, last_message_at);
    CREATE INDEX ix_conversations_last_message ON conversations (last_message_at);
    CREATE INDEX ix_conversations_started ON conversations (started_at, status);
    CREATE INDEX ix_conversations_change_seq ON conversations (change_seq);
    CREATE INDEX ix_system_logs_created ON system_logs (created_at);
    CREATE INDEX ix_users_change_seq ON users (change_seq);
    CREATE INDEX ix_metrics_name ON metrics_hourly (name, hour)
    """)


def _v2_active_conversations_index(db: Database) -> None:
    # The dashboard counts open/pending conversations with a message in the last 24 h; with the status in
    # the index that count never touches the table (9 ms -> under 1 ms on 100,000 conversations).
    # Two indexes no query uses cost an update on every capture: drop them. replied_wait_since lets the
    # capture upsert a conversation in one statement and still learn which wait it ended.
    db.executescript("""
    CREATE INDEX ix_conversations_recent_status ON conversations (last_message_at, status);
    DROP INDEX ix_conversations_last_message;
    DROP INDEX ix_customers_created;
    DROP INDEX ix_customers_name;
    ALTER TABLE conversations ADD COLUMN replied_wait_since TEXT
    """)


def _v3_sync(db: Database) -> None:
    # Team hub sync (docs/decisions.md "Sync to a team hub"). On an agent: sync_state (push cursor = the
    # last change_seq the hub acknowledged, pull cursor into the hub's profile changes, the hybrid logical
    # clock and its node id) and the conflict log. On the hub (same schema): hub_agents with their hashed
    # tokens and hub_rows, every pushed row keyed by (agent_id, table_name, row_id). customers.field_hlc
    # holds the HLC of the last edit of each shared profile field, as a JSON object.
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    json_type = "TEXT" if db.is_sqlite else "JSONB"
    node_id = secrets.token_hex(6)  # HLC tie-breaker: unique per database (agent or hub)
    db.executescript(f"""
    ALTER TABLE customers ADD COLUMN field_hlc TEXT NOT NULL DEFAULT '{{}}';
    CREATE TABLE sync_state (
        id INTEGER PRIMARY KEY CHECK (id = 1), node_id TEXT NOT NULL, hlc TEXT NOT NULL DEFAULT '',
        push_cursor BIGINT NOT NULL DEFAULT 0, pull_seq BIGINT NOT NULL DEFAULT 0, pull_id BIGINT NOT NULL DEFAULT 0,
        last_success_at TEXT, last_attempt_at TEXT, last_error TEXT, last_error_at TEXT);
    INSERT INTO sync_state (id, node_id) VALUES (1, '{node_id}');
    CREATE TABLE sync_conflicts (
        id {pk}, phone TEXT NOT NULL, field TEXT NOT NULL, losing_value TEXT, losing_hlc TEXT NOT NULL,
        winning_value TEXT, winning_hlc TEXT NOT NULL, {_ROW_META},
        UNIQUE (phone, field, losing_hlc, winning_hlc));
    CREATE TABLE hub_agents (
        id {pk}, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, active INTEGER NOT NULL DEFAULT 1,
        last_push_at TEXT, acked_seq BIGINT NOT NULL DEFAULT 0, {_ROW_META});
    CREATE TABLE hub_rows (
        agent_id BIGINT NOT NULL REFERENCES hub_agents(id), table_name TEXT NOT NULL, row_id BIGINT NOT NULL,
        change_seq BIGINT NOT NULL, data {json_type} NOT NULL, received_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, table_name, row_id));
    CREATE INDEX ix_sync_conflicts_created ON sync_conflicts (created_at)
    """)


def _v4_extensions(db: Database) -> None:
    # Paired browser extensions (docs/extension-protocol.md). Only the SHA-256 of a token is kept; a revoked
    # row stays, so its token keeps answering "revoked" rather than "unknown". Not synced to a hub.
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    db.executescript(f"""
    CREATE TABLE extensions (
        id {pk}, name TEXT NOT NULL, browser TEXT NOT NULL, origin TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, paired_at TEXT NOT NULL, last_seen_at TEXT, revoked_at TEXT, {_ROW_META});
    CREATE INDEX ix_extensions_origin ON extensions (origin, revoked_at)
    """)


def _v5_customer_kinds(db: Database) -> None:
    # Customers WhatsApp does not give a phone for (docs/decisions.md "Customer keys for @lid chats and
    # groups"): customers.phone stays the one unique key and holds the JID for them; kind says which
    # ('phone', 'lid', 'group', or 'merged'). A @lid customer merged into its phone's customer stays as a
    # 'merged' row pointing at it (merged_into): later captures and reads by the @lid key follow it, and
    # team sync, which has no deletes, sees an update rather than a row that silently disappears.
    db.executescript("""
    ALTER TABLE customers ADD COLUMN kind TEXT NOT NULL DEFAULT 'phone';
    ALTER TABLE customers ADD COLUMN merged_into BIGINT REFERENCES customers(id);
    UPDATE customers SET kind = CASE WHEN phone LIKE '%@g.us' THEN 'group' WHEN phone LIKE '%@lid' THEN 'lid'
        ELSE 'phone' END WHERE phone NOT LIKE '+%'
    """)


def _v6_revocable_tokens(db: Database) -> None:
    # Revocable sessions (docs/decisions.md "Sessions and secrets"). users.token_version is the `ver` every
    # access token carries: bumping it (password change, disable, "revoke sessions") ends all of the user's
    # tokens at once. revoked_tokens lists the `jti` of tokens ended one at a time (logout) until they would
    # have expired anyway; rows past expires_at (unix seconds) are pruned.
    db.executescript("""
    ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
    CREATE INDEX ix_revoked_tokens_expires ON revoked_tokens (expires_at)
    """)


def _v7_hub_agent_tokens(db: Database) -> None:
    # Hub agent tokens that can be revoked and rotated (docs/decisions.md "Least-privilege roles; hub agent
    # tokens revocable and rotatable"): when each happened, when the agent last used its token, and the hash of
    # the token a rotation replaced, so that token answers "replaced" (401 with a clear reason) rather than
    # "unknown". Created on agents too (same schema), unused there.
    db.executescript("""
    ALTER TABLE hub_agents ADD COLUMN revoked_at TEXT;
    ALTER TABLE hub_agents ADD COLUMN rotated_at TEXT;
    ALTER TABLE hub_agents ADD COLUMN last_seen_at TEXT;
    ALTER TABLE hub_agents ADD COLUMN previous_token_hash TEXT;
    CREATE INDEX ix_hub_agents_previous_token ON hub_agents (previous_token_hash)
    """)


def _v8_capture_conflicts(db: Database) -> None:
    # A replay of a stored WhatsApp message whose content, type or direction differs from what was stored
    # (docs/decisions.md "Durability (issue 14)"): the stored message is kept and answered as a duplicate, and
    # each differing field is recorded here once per distinct replayed value (times counts the repeats). Local
    # to each agent, not synced; message_pk has no foreign key so that conflicts never block deleting a message.
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    db.executescript(f"""
    CREATE TABLE capture_conflicts (
        id {pk}, message_pk BIGINT NOT NULL, message_id TEXT NOT NULL, field TEXT NOT NULL, stored_value TEXT,
        replayed_value TEXT, replayed_digest TEXT NOT NULL, times INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (message_pk, field, replayed_digest));
    CREATE INDEX ix_capture_conflicts_created ON capture_conflicts (created_at)
    """)


def _v9_hub_backups(db: Database) -> None:
    # Off-site backups on a hub (docs/decisions.md "Off-site backups on the hub"): each agent's encrypted backup
    # files, in parts of storage/hub_backups.PART_BYTES, so an upload resumes part by part and neither side
    # holds a whole file in memory. The hub cannot read them (the key stays on the agents). Created on agents
    # too (same schema), unused there.
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    blob = "BLOB" if db.is_sqlite else "BYTEA"
    db.executescript(f"""
    CREATE TABLE hub_backups (
        id {pk}, agent_id BIGINT NOT NULL REFERENCES hub_agents(id), name TEXT NOT NULL,
        size_bytes BIGINT NOT NULL, parts INTEGER NOT NULL, sha256 TEXT NOT NULL, key_id TEXT NOT NULL,
        backup_created_at TEXT NOT NULL, started_at TEXT NOT NULL, completed_at TEXT,
        UNIQUE (agent_id, name));
    CREATE TABLE hub_backup_parts (
        backup_id BIGINT NOT NULL REFERENCES hub_backups(id), part INTEGER NOT NULL, data {blob} NOT NULL,
        PRIMARY KEY (backup_id, part))
    """)


def _v10_tombstones(db: Database) -> None:
    # Deletions synced to a hub as tombstones (docs/decisions.md "Tombstones"). On an agent: one sync_tombstones row
    # per deleted synced row, written by the deleting transaction with its change_seq, pushed like any change and
    # pruned once the hub acknowledged it. On the hub: hub_rows.deleted_reason marks a row its agent deleted; the
    # row stays as a marker with the tombstone's change_seq, so a late push of an older version cannot bring it back.
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    db.executescript(f"""
    CREATE TABLE sync_tombstones (
        id {pk}, table_name TEXT NOT NULL, row_id BIGINT NOT NULL, reason TEXT NOT NULL, {_ROW_META});
    CREATE INDEX ix_sync_tombstones_change_seq ON sync_tombstones (change_seq);
    ALTER TABLE hub_rows ADD COLUMN deleted_reason TEXT
    """)


def _v11_knowledge(db: Database) -> None:
    # The seller's knowledge base (issue 15, docs/decisions.md "Knowledge base"): facts the suggested replies and
    # the AI drafts are grounded in, and quick replies (`shortcut`, typed as /shortcut in WhatsApp's box). `uid`
    # names an entry across a team (ids differ per agent); field_hlc stamps each field for the hub's
    # last-writer-wins merge, as for customer profiles. A deleted entry leaves a sync tombstone.
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
    db.executescript(f"""
    CREATE TABLE knowledge (
        id {pk}, uid TEXT NOT NULL UNIQUE, title TEXT NOT NULL, content TEXT NOT NULL, language TEXT,
        tags TEXT NOT NULL DEFAULT '[]', shortcut TEXT, field_hlc TEXT NOT NULL DEFAULT '{{}}', {_ROW_META});
    CREATE UNIQUE INDEX ux_knowledge_shortcut ON knowledge (shortcut);
    CREATE INDEX ix_knowledge_change_seq ON knowledge (change_seq)
    """)


def _v12_knowledge_sync(db: Database) -> None:
    # A team shares one knowledge base (docs/decisions.md "Knowledge base (API and sync)"). On an agent: a
    # tombstone names the deleted entry's uid (its row id means nothing to the hub or the other agents), and a
    # pull cursor into the hub's knowledge changes (change_seq, uid). On the hub: knowledge_deletions, one row
    # per deleted uid with the change_seq agents pull it by; a deletion wins over any later push of the entry.
    # The title index: a CSV import finds the entry of each row without a shortcut by its exact title.
    db.executescript("""
    ALTER TABLE sync_tombstones ADD COLUMN uid TEXT;
    ALTER TABLE sync_state ADD COLUMN knowledge_pull_seq BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE sync_state ADD COLUMN knowledge_pull_uid TEXT NOT NULL DEFAULT '';
    CREATE TABLE knowledge_deletions (
        uid TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, change_seq BIGINT NOT NULL);
    CREATE INDEX ix_knowledge_deletions_change_seq ON knowledge_deletions (change_seq);
    CREATE INDEX ix_knowledge_title ON knowledge (title)
    """)
def _v13_analysis_context(db: Database) -> None:
    # Whether the conversation's earlier messages changed a message's reading (issue 15, "Conversation-aware
    # analysis"): the analysis dict's "context" as JSON, NULL for analyses stored before it existed.
    db.execute("ALTER TABLE ai_analysis ADD COLUMN context TEXT")


def _v14_analysis_knowledge(db: Database) -> None:
    # The knowledge entry a grounded suggestion came from (issue 15): the analysis dict's "knowledge" as JSON, NULL
    # when nothing answered (or for analyses stored before it existed), so the panel and the windows can say
    # where the first suggestion came from long after the capture.
    db.execute("ALTER TABLE ai_analysis ADD COLUMN knowledge TEXT")


def _v15_current_analysis_on_messages(db: Database) -> None:
    # Filters on the latest analysis at any size (issue 17, docs/decisions.md "Data at scale"): the latest
    # sentiment and intent of a message, copied onto its row, so the list filters by an index on
    # (sentiment|intent, sent_at) instead of joining MAX(ai_analysis.id) per message (0.5-1 s at 1M). Kept right
    # by a trigger on ai_analysis: every writer (capture, the LLM follow-up, re-analysis, a future bulk path) is
    # covered in the very statement that writes the analysis. A hub (PostgreSQL) gets the columns but no trigger:
    # it serves no message list (its messages are hub_rows). ix_customers_kind: the dashboard's customer count and
    # the kind filter read a narrow index instead of every customer row (23 ms -> ~2 ms at 50,000 customers).
    db.executescript("""
    ALTER TABLE messages ADD COLUMN sentiment TEXT;
    ALTER TABLE messages ADD COLUMN intent TEXT
    """)
    if not db.is_sqlite:
        return
    db.execute("UPDATE messages SET sentiment = a.sentiment_label, intent = a.intent_label FROM "
               "(SELECT message_id, sentiment_label, intent_label FROM ai_analysis WHERE id IN "
               "(SELECT MAX(id) FROM ai_analysis GROUP BY message_id)) AS a WHERE a.message_id = messages.id")
    db.executescript("""
    CREATE INDEX ix_messages_sentiment ON messages (sentiment, sent_at);
    CREATE INDEX ix_messages_intent ON messages (intent, sent_at);
    CREATE INDEX ix_customers_kind ON customers (kind)
    """)
    db.execute(CURRENT_ANALYSIS_TRIGGER)
    # The dashboard's customer total, kept by triggers rather than counted (14 ms at 500,000 customers, linear).
    db.execute("CREATE TABLE row_counts (name TEXT PRIMARY KEY, value BIGINT NOT NULL)")
    db.execute(f"INSERT INTO row_counts (name, value) SELECT 'customers', COUNT(*) FROM customers WHERE {COUNTED_KIND}")
    for trigger in CUSTOMER_COUNT_TRIGGERS:
        db.execute(trigger)


# Ids only grow, so the analysis being inserted is the message's latest.
CURRENT_ANALYSIS_TRIGGER = (
    "CREATE TRIGGER tr_analysis_current AFTER INSERT ON ai_analysis WHEN NEW.message_id IS NOT NULL BEGIN "
    "UPDATE messages SET sentiment = NEW.sentiment_label, intent = NEW.intent_label WHERE id = NEW.message_id; END")

# Who counts as a customer on the dashboard: neither a group's pseudo-customer nor a merged @lid key.
COUNTED_KIND = "kind IN ('phone', 'lid')"
CUSTOMER_COUNT_TRIGGERS = (
    f"CREATE TRIGGER tr_customers_count_insert AFTER INSERT ON customers WHEN NEW.{COUNTED_KIND} BEGIN "
    "UPDATE row_counts SET value = value + 1 WHERE name = 'customers'; END",
    f"CREATE TRIGGER tr_customers_count_delete AFTER DELETE ON customers WHEN OLD.{COUNTED_KIND} BEGIN "
    "UPDATE row_counts SET value = value - 1 WHERE name = 'customers'; END",
    f"CREATE TRIGGER tr_customers_count_kind AFTER UPDATE OF kind ON customers "
    f"WHEN (OLD.{COUNTED_KIND}) IS NOT (NEW.{COUNTED_KIND}) BEGIN "
    f"UPDATE row_counts SET value = value + (NEW.{COUNTED_KIND}) - (OLD.{COUNTED_KIND}) WHERE name = 'customers'; END",
)


def _v16_full_text_search(db: Database) -> None:
    # Full-text search (issue 17): FTS5 indexes over messages.content and customers' name and email, accents and
    # case folded (unicode61 remove_diacritics 2: "acao" finds "ação"). External content tables (the text is
    # stored once, in messages/customers) kept in sync by triggers; the rebuild indexes the existing rows.
    # SQLite only: a hub serves no message list.
    if not db.is_sqlite:
        return
    create_search_tables(db)
    rebuild_search(db)


def _v17_pending_analysis_index(db: Database) -> None:
    # A history import stores its older messages before their analysis (crm/analysis_backfill.py analyses them
    # after the answer): a message without an analysis has no sentiment on its row. This partial index holds only
    # those, so finding the pending ones costs the same at 10M messages as at 1,000, and stays empty otherwise.
    if db.is_sqlite:
        db.execute("CREATE INDEX ix_messages_analysis_pending ON messages (id) WHERE sentiment IS NULL")


def _v18_active_conversation_hours(db: Database) -> None:
    # The dashboard's active conversations (open or pending, last message in the 24 h before now) were an index
    # range count: 117 entries at 100k seeded messages, 12,499 at 10M (0.6 ms, growing with a day's activity). This
    # table holds, per hour of last_message_at, how many open or pending conversations have their last message in
    # it, kept by triggers; the count becomes the sum of the whole hours after the cutoff's hour plus the index range
    # of that one partial hour (storage/customers.py active_conversation_count). SQLite only, as row_counts.
    if not db.is_sqlite:
        return
    db.execute("CREATE TABLE conversation_hours (hour TEXT PRIMARY KEY, active BIGINT NOT NULL) WITHOUT ROWID")
    db.execute(f"INSERT INTO conversation_hours (hour, active) SELECT substr(last_message_at, 1, 13), COUNT(*) "
               f"FROM conversations WHERE {ACTIVE_CONVERSATION} GROUP BY 1")
    for trigger in CONVERSATION_HOURS_TRIGGERS:
        db.execute(trigger)


# Which conversations the dashboard counts as active, when their last message is recent enough.
ACTIVE_CONVERSATION = "status IN ('open', 'pending') AND last_message_at IS NOT NULL"
_OLD_ACTIVE = "(OLD.status IN ('open', 'pending') AND OLD.last_message_at IS NOT NULL)"
_NEW_ACTIVE = "(NEW.status IN ('open', 'pending') AND NEW.last_message_at IS NOT NULL)"
_ADD_NEW = ("INSERT INTO conversation_hours (hour, active) SELECT substr(NEW.last_message_at, 1, 13), 1 "
            f"WHERE {_NEW_ACTIVE} ON CONFLICT (hour) DO UPDATE SET active = active + 1;")
_REMOVE_OLD = (f"UPDATE conversation_hours SET active = active - 1 WHERE {_OLD_ACTIVE} "
               "AND hour = substr(OLD.last_message_at, 1, 13);")
CONVERSATION_HOURS_TRIGGERS = (
    f"CREATE TRIGGER tr_conversation_hours_insert AFTER INSERT ON conversations BEGIN {_ADD_NEW} END",
    f"CREATE TRIGGER tr_conversation_hours_delete AFTER DELETE ON conversations BEGIN {_REMOVE_OLD} END",
    # Most captures move last_message_at within the same hour: nothing to do then.
    "CREATE TRIGGER tr_conversation_hours_update AFTER UPDATE OF last_message_at, status ON conversations "
    f"WHEN {_OLD_ACTIVE} IS NOT {_NEW_ACTIVE} "
    "OR substr(OLD.last_message_at, 1, 13) IS NOT substr(NEW.last_message_at, 1, 13) "
    f"BEGIN {_REMOVE_OLD} {_ADD_NEW} END",
)


MIGRATIONS: list[tuple[int, str, Callable[[Database], None]]] = [
    (1, "initial schema: users, customers, conversations, messages, ai_analysis, system_logs, metrics", _v1_initial),
    (2, "covering index for active conversations; drop unused customer indexes; replied_wait_since",
     _v2_active_conversations_index),
    (3, "team hub sync: sync_state, sync_conflicts, customers.field_hlc, hub_agents, hub_rows", _v3_sync),
    (4, "paired browser extensions: extensions (hashed tokens bound to an origin)", _v4_extensions),
    (5, "customers.kind (phone, lid, group, merged) and customers.merged_into for merged @lid keys",
     _v5_customer_kinds),
    (6, "revocable sessions: users.token_version and revoked_tokens (logged-out token ids until expiry)",
     _v6_revocable_tokens),
    (7, "hub_agents: revoked_at, rotated_at, last_seen_at, previous_token_hash (revoke and rotate agent tokens)",
     _v7_hub_agent_tokens),
    (8, "capture_conflicts: replays of a stored message with different content, type or direction",
     _v8_capture_conflicts),
    (9, "off-site backups on a hub: hub_backups and hub_backup_parts (encrypted files per agent, in parts)",
     _v9_hub_backups),
    (10, "tombstones: sync_tombstones on agents, hub_rows.deleted_reason on the hub", _v10_tombstones),
    (11, "knowledge: the seller's knowledge entries and quick replies (issue 15)", _v11_knowledge),
    (12, "knowledge sync: sync_tombstones.uid, the knowledge pull cursor, knowledge_deletions on the hub; "
         "knowledge title index",
     _v12_knowledge_sync),
    (13, "ai_analysis.context: whether earlier messages of the conversation changed the reading (issue 15)",
     _v13_analysis_context),
    (14, "ai_analysis.knowledge: the knowledge entry a grounded suggestion came from (issue 15)",
     _v14_analysis_knowledge),
    (15, "messages.sentiment and messages.intent: the latest analysis on the message row, indexed, kept by a "
         "trigger (issue 17)", _v15_current_analysis_on_messages),
    (16, "full-text search: messages_fts and customers_fts (FTS5, accents folded), kept by triggers (issue 17)",
     _v16_full_text_search),
    (17, "ix_messages_analysis_pending: the messages whose analysis runs after a history import's answer "
         "(issue 17)", _v17_pending_analysis_index),
    (18, "conversation_hours: the open or pending conversations per hour of their last message, kept by triggers, "
         "for the dashboard's active count (issue 17)", _v18_active_conversation_hours),
]


MIGRATION_LOCK_KEY = 0x43524D_4D494752  # "CRM" "MIGR": any constant all the hub's processes share


def schema_version(db: Database) -> int:
    """The recorded schema version, read only (for health checks; 0 before the first migration)."""
    return int(db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version") or 0)


def current_version(db: Database) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT, "
               "applied_at TEXT NOT NULL)")
    return int(db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version") or 0)


def migrate(db: Database, now_iso: str) -> int:
    """Apply every migration not yet recorded in the database; return the resulting version.

    By the recorded set rather than the highest number: two branches may add migrations 4 and 5 in
    parallel, and a database that already has 5 must still receive 4 when they meet.
    """
    if db.is_postgres:
        # A hub served by several processes (gunicorn workers, more machines) starts them at once: the first to
        # take this lock migrates, the others then find every step recorded. DDL is transactional in PostgreSQL,
        # so the whole run is one transaction holding a transaction-level advisory lock.
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(:key)", {"key": MIGRATION_LOCK_KEY})
            return _apply_missing(db, now_iso)
    return _apply_missing(db, now_iso)


def _apply_missing(db: Database, now_iso: str) -> int:
    version = current_version(db)
    latest = max(number for number, _, _ in MIGRATIONS)
    if version > latest:
        raise RuntimeError(f"database schema version {version} is newer than this program ({latest})")
    applied = {int(row["version"]) for row in db.all("SELECT version FROM schema_version")}
    for number, description, step in MIGRATIONS:
        if number in applied:
            continue
        with db.transaction():
            step(db)
            db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :t)",
                       {"v": number, "d": description, "t": now_iso})
        log.info("database migrated to version %d (%s)", number, description)
        version = max(version, number)
    return version
