"""Simulated agents for load on a team hub (tests/test_hub_concurrency.py, bench/hub_concurrency.py).

A simulated agent is the real agent's sync side without its HTTP service: an agent database (SQLite, the real
migrations) filled with customers, conversations, messages and analyses written as the capture path writes them
(several rows per transaction, each transaction with its change_seq), and the real crm.sync.SyncAgent pushing it
all (batches, cursor, tenacity retries) and pulling the shared profiles. Seeding through SQL takes a second where
capturing 100,000 messages through the API would take minutes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.clock import Clock
from crm.sync import SyncAgent, SyncSettings
from storage import sync_state
from storage.database import Database, sqlite_url
from storage.migrations import migrate

NOW = "2026-12-01T12:00:00.000Z"
MESSAGES_PER_TRANSACTION = 99  # as a capture batch: a group commit writes many messages under one change_seq


@dataclass(frozen=True)
class PushResult:
    name: str
    rows: int
    seconds: float


def seed_agent_database(path: Path, prefix: str, rows: int, customers: int = 25) -> int:
    """A migrated agent database holding `rows` synced rows: `customers` customers (phones shared by every agent,
    so the hub merges their profiles) with a conversation each, the rest messages with one analysis each. Returns
    the number of rows written (= rows when rows - 2 * customers is even)."""
    db = Database(sqlite_url(path))
    try:
        migrate(db, NOW)
        written = 0
        with db.transaction():
            seq = db.next_sequence()
            for i in range(customers):
                customer_id = db.insert(
                    "INSERT INTO customers (phone, name, created_at, updated_at, change_seq) "
                    "VALUES (:p, :n, :now, :now, :seq)",
                    {"p": f"+55119{i:08d}", "n": f"{prefix} cliente {i}", "now": NOW, "seq": seq})
                db.execute("INSERT INTO conversations (chat_id, customer_id, started_at, last_message_at, created_at, "
                           "updated_at, change_seq) VALUES (:c, :cust, :now, :now, :now, :now, :seq)",
                           {"c": f"55119{i:08d}@c.us", "cust": customer_id, "now": NOW, "seq": seq})
                written += 2
        messages = (rows - written) // 2
        for start in range(0, messages, MESSAGES_PER_TRANSACTION):
            with db.transaction():
                seq = db.next_sequence()
                for i in range(start, min(messages, start + MESSAGES_PER_TRANSACTION)):
                    customer = i % customers + 1
                    message_id = db.insert(
                        "INSERT INTO messages (message_id, conversation_id, customer_id, direction, type, content, "
                        "sent_at, created_at, updated_at, change_seq) VALUES (:m, :c, :c, 'in', 'text', :t, :now, "
                        ":now, :now, :seq)",
                        {"m": f"wamid.{prefix}.{i}", "c": customer, "t": f"mensagem {i} de {prefix}: quanto custa?",
                         "now": NOW, "seq": seq})
                    db.execute(
                        "INSERT INTO ai_analysis (message_id, sentiment_label, sentiment_score, intent_label, "
                        "intent_confidence, suggested_responses, confidence_scores, model_version, engine, "
                        "created_at, updated_at, change_seq) VALUES (:m, 'neutral', 0.1, 'pricing', 0.8, :s, '{}', "
                        "'builtin-1.0', 'rules', :now, :now, :seq)",
                        {"m": message_id, "s": json.dumps(["O plano custa R$ 49."]), "now": NOW, "seq": seq})
                    written += 2
        return written
    finally:
        db.close()


def register_agents(db_url: str, names: list[str]) -> dict[str, str]:
    """Hub tokens for these agents, registered as `agent.py hub agent-add` does, in this process (one CLI process
    per agent would cost a second each)."""
    from storage import hub

    db = Database(db_url)
    try:
        migrate(db, NOW)  # as the CLI does: the hub's database may not have been served yet
        return {name: hub.add_agent(db, name, NOW) for name in names}
    finally:
        db.close()


def sync_settings(hub_url: str, token: str, batch_size: int = 500) -> SyncSettings:
    # Many attempts with short waits: the chaos proxy drops requests and answers on purpose.
    return SyncSettings(hub_url=hub_url, token=token, interval_s=1, batch_size=batch_size, ca_file="", timeout_s=60,
                        attempts=200, backoff_initial_s=0.01, backoff_max_s=0.2)


def push_everything(name: str, path: Path, hub_url: str, token: str, batch_size: int = 500) -> PushResult:
    """One simulated agent: sync rounds (push every pending row, pull the profiles; each retried until it succeeds)
    until nothing is pending. A pulled profile that changes a local customer makes that row pending again, so the
    next round pushes it, as the service's next round would."""
    db = Database(sqlite_url(path))
    try:
        agent = SyncAgent(db, sync_settings(hub_url, token, batch_size), Clock())
        started = time.perf_counter()
        for _ in range(10):
            agent.sync_once()
            if sync_state.pending_rows(db) == 0:
                # rows_pushed counts every acknowledged batch (a round's own count restarts with each retry).
                return PushResult(name, agent.rows_pushed, time.perf_counter() - started)
        raise AssertionError(f"{name}: rows still pending after 10 successful rounds")
    finally:
        db.close()


def push_concurrently(agents: dict[str, tuple[Path, str]], hub_url: str,
                      push: Callable[..., PushResult] = push_everything) -> tuple[list[PushResult], float]:
    """Every agent's round at once, one thread each; (results, wall seconds)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(agents)) as pool:
        futures = [pool.submit(push, name, path, hub_url, token) for name, (path, token) in agents.items()]
        results = [future.result() for future in futures]
    return results, time.perf_counter() - started
