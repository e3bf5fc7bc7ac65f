"""Full-text search (SQLite FTS5): the indexes, the triggers that keep them, and the user's words as a query.

Both indexes are external-content FTS5 tables: the text lives once, in messages.content and customers.name/email;
the index holds only the tokens. Triggers keep it in the same transaction as every insert, edit and delete
(captures, retention purges, merges), and a restored backup from before migration 16 is indexed by the migration.
"""

from __future__ import annotations

from storage.database import Database

# unicode61 folds case; remove_diacritics 2 folds every accent, so "acao" finds "ação" and "nino" finds "niño".
TOKENIZER = "unicode61 remove_diacritics 2"

MESSAGE_TRIGGERS = (
    "CREATE TRIGGER tr_messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts (rowid, content) VALUES (NEW.id, NEW.content); END",
    "CREATE TRIGGER tr_messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.id, OLD.content); END",
    # Only an edit of the text: clearing raw payloads or copying the latest analysis on the row leaves it alone.
    "CREATE TRIGGER tr_messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', OLD.id, OLD.content); "
    "INSERT INTO messages_fts (rowid, content) VALUES (NEW.id, NEW.content); END",
)

CUSTOMER_TRIGGERS = (
    "CREATE TRIGGER tr_customers_fts_insert AFTER INSERT ON customers BEGIN "
    "INSERT INTO customers_fts (rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email); END",
    "CREATE TRIGGER tr_customers_fts_delete AFTER DELETE ON customers BEGIN "
    "INSERT INTO customers_fts (customers_fts, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, OLD.email); "
    "END",
    # Every capture updates its customer (counters, last contact, name = COALESCE(...)): re-index only when the
    # name or the email really changed.
    "CREATE TRIGGER tr_customers_fts_update AFTER UPDATE OF name, email ON customers "
    "WHEN OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email BEGIN "
    "INSERT INTO customers_fts (customers_fts, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, OLD.email); "
    "INSERT INTO customers_fts (rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email); END",
)

# A list counts its rows up to this many and then says "10,000+" (total_capped): counting a million rows to print a
# number nobody reads cost more than the page itself.
TOTAL_CAP = 10_000
# A search counts its matches up to this many ("1,000+"): the matches of two words found together are spread through
# the index, and counting to 10,000 of them read 7.6 ms of the index at 10M messages (0.7 ms to 1,000).
SEARCH_TOTAL_CAP = 1_000

MESSAGE_TRIGGER_NAMES = ("tr_messages_fts_insert", "tr_messages_fts_delete", "tr_messages_fts_update")

# A word ending in "*" is a prefix ("entreg*" finds "entrega") from this many letters or digits on. Words match whole
# otherwise: FTS5 streams a whole word's matches newest first and stops at the page, but reads every match of a
# prefix (20 ms for "pedido*" at 1M messages, ten times that at 10M), so prefixes are asked for, not the default.
PREFIX_FROM_CHARS = 3


def create_search_tables(db: Database) -> None:
    db.execute(f"CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id', "
               f"tokenize='{TOKENIZER}')")
    db.execute(f"CREATE VIRTUAL TABLE customers_fts USING fts5(name, email, content='customers', "
               f"content_rowid='id', tokenize='{TOKENIZER}')")
    create_message_triggers(db)
    for trigger in CUSTOMER_TRIGGERS:
        db.execute(trigger)


def create_message_triggers(db: Database) -> None:
    for trigger in MESSAGE_TRIGGERS:
        db.execute(trigger)


def drop_message_triggers(db: Database) -> None:
    """For a bulk load (bench/seed.py) that indexes once at the end with rebuild_search."""
    for name in MESSAGE_TRIGGER_NAMES:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")


def rebuild_search(db: Database) -> None:
    """Index every stored row again from the content tables."""
    db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    db.execute("INSERT INTO customers_fts (customers_fts) VALUES ('rebuild')")


def match_query(text: str) -> str | None:
    """The user's words as an FTS5 query that every word must match, or None when no word has a letter or digit.

    Each word is one quoted string (FTS5 syntax in it, "NEAR(", "OR", a lone quote, is text, never an operator; an
    inner quote is doubled); a trailing "*" after PREFIX_FROM_CHARS characters makes it a prefix. The tokenizer then
    splits a quoted word the way it split the stored text ("ana@example" is the phrase "ana example").
    """
    terms = []
    for word in text.split():
        stem = word.rstrip("*")
        if sum(ch.isalnum() for ch in stem) == 0:
            continue
        quoted = '"' + stem.replace('"', '""') + '"'
        prefix = stem != word and sum(ch.isalnum() for ch in stem) >= PREFIX_FROM_CHARS
        terms.append(quoted + "*" if prefix else quoted)
    return " AND ".join(terms) if terms else None
