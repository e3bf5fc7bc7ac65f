"""Sync throughput: rows/s from an agent's SQLite into the hub's PostgreSQL, against a plain batched INSERT.

    python bench/sync_throughput.py [--messages 20000] [--batch-size 500]

Starts a private PostgreSQL cluster (tests/postgres.py; as the postgres user when run as root), a hub
(`agent.py serve --hub --db ...`) and an agent service that captures --messages distinct messages through
the API (the real path; the agent's own sync is off). Then, in this process, the agent's SyncAgent pushes
every row (customers, conversations, messages, analyses) to the hub over HTTP on loopback: the figure is
rows acknowledged per second of push_pending(). Baseline, same run, same rows: the rows read from the same
SQLite file and inserted straight into a PostgreSQL table shaped like hub_rows (JSONB data, the same
primary key) with psycopg2's execute_values, committed per batch of the same size as the push batches.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import header
from core.clock import Clock
from crm.sync import SyncAgent, SyncSettings
from storage import sync_state
from storage.database import Database, sqlite_url
from tests.helpers import start_service
from tests.postgres import start_cluster
from tests.sync_helpers import add_agent, captures, seed, start_hub


def push_with_sync(db_path: Path, hub_url: str, token: str, batch_size: int) -> tuple[int, float, int]:
    db = Database(sqlite_url(db_path))
    try:
        settings = SyncSettings(hub_url=hub_url, token=token, interval_s=1, batch_size=batch_size, ca_file="",
                                timeout_s=60, attempts=3, backoff_initial_s=0.1, backoff_max_s=1)
        agent = SyncAgent(db, settings, Clock())
        pending = sync_state.pending_rows(db)
        started = time.perf_counter()
        rows = agent.push_pending()
        elapsed = time.perf_counter() - started
        assert sync_state.pending_rows(db) == 0
        return rows, elapsed, pending
    finally:
        db.close()


def baseline_insert(db_path: Path, pg, database: str, batch_rows: int) -> tuple[int, float]:
    """The same rows, read from SQLite the same way and inserted directly; one commit per batch."""
    import psycopg2.extras

    conn = pg.connect(database)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE bench_rows (agent_id BIGINT NOT NULL, table_name TEXT NOT NULL, row_id BIGINT NOT "
                    "NULL, change_seq BIGINT NOT NULL, data JSONB NOT NULL, received_at TEXT NOT NULL, "
                    "PRIMARY KEY (agent_id, table_name, row_id))")
    source = sqlite3.connect(db_path)
    source.row_factory = sqlite3.Row
    started = time.perf_counter()
    total = 0
    now = "2026-11-29T00:00:00.000Z"
    for table in sync_state.SYNCED_TABLES:
        rows = source.execute(f"SELECT * FROM {table} ORDER BY change_seq, id")
        while chunk := rows.fetchmany(batch_rows):
            values = [(1, table, r["id"], r["change_seq"], json.dumps(dict(r)), now) for r in chunk]
            with conn, conn.cursor() as cur:
                psycopg2.extras.execute_values(cur, "INSERT INTO bench_rows VALUES %s", values, page_size=1000)
            total += len(values)
    elapsed = time.perf_counter() - started
    source.close()
    conn.close()
    return total, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    header("sync throughput: agent SQLite -> hub PostgreSQL over HTTP (loopback)")
    print(f"   load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pg = start_cluster()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-sync-"))
    hub = agent = None
    try:
        hub, url = start_hub(pg, tmp / "hub")
        token = add_agent(url, "bench")
        agent = start_service(tmp / "agent", config={
            "ai": {"rules_worker": False},
            "security": {"rate_limit_per_s": 1_000_000.0, "rate_limit_burst": 1_000_000}})
        started = time.perf_counter()
        seed(agent, captures("bench", args.messages, customers=max(1, args.messages // 20)))
        print(f"   seeded {args.messages:,} messages through POST /api/messages/capture in "
              f"{time.perf_counter() - started:.1f} s")
        agent.stop()
        db_path = tmp / "agent" / "crm_agent.db"
        rows, seconds, pending = push_with_sync(db_path, hub.url, token, args.batch_size)
        hub_count = hub.get("/api/health").json()["sync"]
        base_rows, base_seconds = baseline_insert(db_path, pg, url.split("/")[3].split("?")[0],
                                                  batch_rows=args.batch_size * 2)
        sync_rate, base_rate = rows / seconds, base_rows / base_seconds
        print(f"   rows pending before the push: {pending:,} (customers, conversations, messages, analyses)")
        print(f"   sync push (batch_size {args.batch_size}/table)  {rows:>8,} rows in {seconds:6.2f} s  "
              f"{sync_rate:>9,.0f} rows/s   hub: {hub_count}")
        print(f"   baseline execute_values INSERT      {base_rows:>8,} rows in {base_seconds:6.2f} s  "
              f"{base_rate:>9,.0f} rows/s")
        print(f"   sync / baseline: {sync_rate / base_rate:.1%}")
        print(f"   load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    finally:
        if hub is not None:
            hub.stop()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
