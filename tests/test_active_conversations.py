"""The dashboard's active conversations from migration 18's hourly roll-up (issue 17): the same number as a plain
count of open or pending conversations with a message since the cutoff, whatever happened to them (captures moving
their last message, status changes, deletions), at any cutoff, including one inside an hour."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from core.clock import iso
from storage import customers as customer_rows
from storage.database import Database, sqlite_url
from storage.migrations import migrate
from tests.helpers import message, start_service

NOW = "2026-12-07T12:00:00.000Z"
BASE = datetime(2026, 12, 6, 0, 0, tzinfo=timezone.utc)
STATUSES = ("open", "pending", "closed", "converted")


def plain_count(db: Database, since: str) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM conversations WHERE last_message_at >= :a "
                         "AND status IN ('open', 'pending')", {"a": since}))


def hours_match_a_recount(db: Database) -> bool:
    kept = {row["hour"]: row["active"] for row in db.all("SELECT hour, active FROM conversation_hours")
            if row["active"]}
    recount = {row["hour"]: row["n"] for row in db.all(
        "SELECT substr(last_message_at, 1, 13) AS hour, COUNT(*) AS n FROM conversations "
        "WHERE status IN ('open', 'pending') GROUP BY 1")}
    return kept == recount


def random_moment(rng: random.Random) -> str:
    return iso(BASE + timedelta(seconds=rng.randrange(0, 3 * 86400)))


def test_the_roll_up_follows_every_change_and_counts_like_a_plain_count(tmp_path):
    db = Database(sqlite_url(tmp_path / "a.db"))
    migrate(db, NOW)
    rng = random.Random(18)
    with db.transaction():
        db.execute("INSERT INTO customers (phone, created_at, updated_at, change_seq) VALUES ('+5511900000001', "
                   ":t, :t, 1)", {"t": NOW})
    ids: list[int] = []
    for step in range(600):
        action = rng.random()
        with db.transaction():
            if action < 0.35 or not ids:
                moment = random_moment(rng)
                db.execute("INSERT INTO conversations (chat_id, customer_id, status, started_at, last_message_at, "
                           "created_at, updated_at, change_seq) VALUES (:c, 1, :s, :t, :t, :t, :t, 1)",
                           {"c": f"chat{step}@c.us", "s": rng.choice(STATUSES), "t": moment})
                ids.append(int(db.scalar("SELECT last_insert_rowid()")))
            elif action < 0.70:  # a capture: the last message moves, often within the same hour
                db.execute("UPDATE conversations SET last_message_at = :t WHERE id = :id",
                           {"t": random_moment(rng), "id": rng.choice(ids)})
            elif action < 0.90:
                db.execute("UPDATE conversations SET status = :s WHERE id = :id",
                           {"s": rng.choice(STATUSES), "id": rng.choice(ids)})
            else:
                gone = ids.pop(rng.randrange(len(ids)))
                db.execute("DELETE FROM conversations WHERE id = :id", {"id": gone})
        if step % 50 == 0:
            assert hours_match_a_recount(db), f"after step {step}"
    assert hours_match_a_recount(db)
    for _ in range(40):  # cutoffs on the hour and inside one
        since = random_moment(rng)
        assert customer_rows.active_conversation_count(db, since) == plain_count(db, since), since
    db.close()


def test_the_migration_counts_the_conversations_already_there(tmp_path):
    db = Database(sqlite_url(tmp_path / "b.db"))
    migrate(db, NOW)
    with db.transaction():
        db.execute("INSERT INTO customers (phone, created_at, updated_at, change_seq) VALUES ('+5511900000002', "
                   ":t, :t, 1)", {"t": NOW})
        for i, status in enumerate(STATUSES * 3):
            db.execute("INSERT INTO conversations (chat_id, customer_id, status, started_at, last_message_at, "
                       "created_at, updated_at, change_seq) VALUES (:c, 1, :s, :t, :t, :t, :t, 1)",
                       {"c": f"old{i}@c.us", "s": status, "t": iso(BASE + timedelta(minutes=37 * i))})
        # A database migrated before version 18: its conversations are there, the roll-up is not.
        for trigger in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER tr_conversation_hours_{trigger}")
        db.execute("DROP TABLE conversation_hours")
        db.execute("DELETE FROM schema_version WHERE version = 18")
    migrate(db, NOW)
    assert hours_match_a_recount(db)
    assert customer_rows.active_conversation_count(db, iso(BASE)) == 6
    db.close()


def test_the_dashboard_counts_the_last_24_hours_at_the_minute(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        now = datetime.now(timezone.utc)
        cutoff = now - timedelta(hours=24)
        # Around the cutoff (inside its hour on either side), well inside the day, and older than a day.
        offsets = [timedelta(minutes=3), timedelta(minutes=-3), timedelta(hours=2), timedelta(hours=23),
                   timedelta(hours=-5), timedelta(minutes=50), timedelta(minutes=-50)]
        for i, offset in enumerate(offsets):
            sent = cutoff + offset
            body = message(message_id=f"wamid.ACTIVE{i}{time.time_ns()}", chat_id=f"5511977700{i:02d}@c.us",
                           phone=f"+55 11 97770-00{i:02d}", timestamp=int(sent.timestamp() * 1000))
            assert svc.post("/api/messages/capture", json=body).status_code == 201
        closed = svc.get("/api/messages", params={"customer": "+5511977700005"}).json()["items"][0]
        assert svc.patch(f"/api/conversations/{closed['conversation']['id']}",
                         json={"status": "closed"}).status_code == 200
        active = svc.get("/api/metrics/dashboard").json()["active_conversations"]
        db = Database(sqlite_url(svc.data_dir / "crm_agent.db"))
        try:
            expected = plain_count(db, iso(datetime.now(timezone.utc) - timedelta(hours=24)))
        finally:
            db.close()
        # +3 min, +2 h, +23 h: the +50 min one was closed; -3 min, -50 min and -5 h are older than a day.
        assert active == expected == 3
    finally:
        svc.stop()
