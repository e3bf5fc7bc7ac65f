"""Idempotency under concurrency: replays make one row, distinct messages are never dropped."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.helpers import message


def _post_all(svc, bodies, workers=50):
    token = svc.token()

    def post(body):
        with requests.Session() as session:
            return session.post(svc.url + "/api/messages/capture", json=body, timeout=30,
                                headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(post, bodies))


def _count(svc, sql, *args):
    with sqlite3.connect(svc.data_dir / "crm_agent.db") as conn:
        return conn.execute(sql, args).fetchone()[0]


def test_fifty_concurrent_replays_make_one_row(service):
    body = message(content="Quero saber o prazo de entrega")
    responses = _post_all(service, [body] * 50)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 49 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.json()["duplicate"] for r in responses) == 49
    assert _count(service, "SELECT COUNT(*) FROM messages WHERE message_id = ?", body["message_id"]) == 1
    assert _count(service, "SELECT COUNT(*) FROM ai_analysis a JOIN messages m ON m.id = a.message_id "
                           "WHERE m.message_id = ?", body["message_id"]) == 1


def test_concurrent_distinct_messages_are_all_stored(service):
    bodies = [message(content="Olá", chat_id=f"55119{i:08d}@c.us", phone=f"+55119{i:08d}") for i in range(200)]
    responses = _post_all(service, bodies)
    assert all(r.status_code == 201 for r in responses)
    assert len({r.json()["id"] for r in responses}) == 200
    ids = tuple(b["message_id"] for b in bodies)
    placeholders = ",".join("?" * len(ids))
    assert _count(service, f"SELECT COUNT(*) FROM messages WHERE message_id IN ({placeholders})", *ids) == 200


def test_change_sequence_only_grows(service):
    with sqlite3.connect(service.data_dir / "crm_agent.db") as conn:
        before = conn.execute("SELECT value FROM change_sequence").fetchone()[0]
    created = service.post("/api/messages/capture", json=message()).json()
    with sqlite3.connect(service.data_dir / "crm_agent.db") as conn:
        seq = conn.execute("SELECT change_seq FROM messages WHERE id = ?", (created["id"],)).fetchone()[0]
        after = conn.execute("SELECT value FROM change_sequence").fetchone()[0]
        stamps = conn.execute("SELECT created_at, updated_at FROM messages WHERE id = ?", (created["id"],)).fetchone()
    assert before < seq <= after
    assert all(stamps)


def test_a_message_stored_by_another_writer_is_answered_as_duplicate(service):
    """Replays are found in the database by the batch's one lookup, whoever wrote the row."""
    first = service.post("/api/messages/capture", json=message(content="primeira")).json()
    foreign_id = f"wamid.FOREIGN{time.time_ns()}"
    with sqlite3.connect(service.data_dir / "crm_agent.db") as conn:
        conn.execute("INSERT INTO messages (message_id, conversation_id, customer_id, direction, type, content, "
                     "sent_at, created_at, updated_at, change_seq) VALUES (?, ?, ?, 'in', 'text', 'x', "
                     "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 0)",
                     (foreign_id, first["conversation_id"], first["customer_id"]))
        foreign_pk = conn.execute("SELECT id FROM messages WHERE message_id = ?", (foreign_id,)).fetchone()[0]
    replay = service.post("/api/messages/capture", json=message(message_id=foreign_id, content="de novo"))
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True and replay.json()["id"] == foreign_pk
    assert _count(service, "SELECT COUNT(*) FROM messages WHERE message_id = ?", foreign_id) == 1
