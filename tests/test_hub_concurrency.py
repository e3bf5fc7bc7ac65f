"""A hub for a whole team: concurrent pushes in one hub process, and 20 agents into gunicorn's gevent workers."""

from __future__ import annotations

import sqlite3
import threading

import requests

from tests.chaos_proxy import ChaosProxy
from tests.hub_load import push_concurrently, register_agents, seed_agent_database
from tests.sync_helpers import add_agent, hub_query, start_gunicorn_hub, start_hub

HUB_CONFIG = {"security": {"rate_limit_per_s": 1_000_000.0, "rate_limit_burst": 1_000_000}}


def _push(hub_url, token, rows, upto, timeout=10):
    return requests.post(hub_url + "/api/sync/push", json={"upto": upto, "rows": rows},
                         headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def test_one_hub_process_serves_other_pushes_while_one_waits_for_postgresql(postgres, tmp_path):
    """psycopg2 made cooperative and a connection per transaction: while agent a's push waits on a row lock in
    PostgreSQL, b's push and the health check are answered by the same process (`serve --hub`). With a driver that
    blocks the event loop, or one shared connection, b waits for a, which waits for us: b times out."""
    hub, url = start_hub(postgres, tmp_path / "hub", config=HUB_CONFIG)
    token_a, token_b = add_agent(url, "a"), add_agent(url, "b")
    row = {"t": "messages", "id": 1, "seq": 1, "data": {"id": 1}}
    assert _push(hub.url, token_a, [row], 1).status_code == 200  # last_seen_at written: a's next push only pushes
    blocker = postgres.connect(url.split("/")[3].split("?")[0])
    a_answer: list[int] = []
    try:
        with blocker.cursor() as cur:  # hold a's hub_agents row: its push blocks at UPDATE hub_agents
            cur.execute("SELECT id FROM hub_agents WHERE name = 'a' FOR UPDATE")
            pushing_a = threading.Thread(target=lambda: a_answer.append(
                _push(hub.url, token_a, [dict(row, seq=2)], 2, timeout=60).status_code))
            pushing_a.start()
            waiting = hub_query(postgres, url, "SELECT 1")  # a round trip: a's request has had time to arrive
            assert waiting == [(1,)]
            r = _push(hub.url, token_b, [row], 1, timeout=10)
            assert r.status_code == 200, r.text
            assert requests.get(hub.url + "/api/health", timeout=10).status_code == 200
            assert a_answer == []  # a still waits for the lock
        blocker.rollback()
        pushing_a.join(30)
        assert a_answer == [200]
    finally:
        blocker.close()
        hub.stop()


AGENTS = 20
ROWS_PER_AGENT = 5000  # 100,000 rows in all


def test_twenty_agents_push_100000_rows_through_the_chaos_proxy_into_two_workers(postgres, tmp_path):
    url = postgres.create_database("hub_twenty")
    hub = start_gunicorn_hub(url, tmp_path / "hub", workers=2, config=HUB_CONFIG)
    proxy = ChaosProxy(hub.url, seed=14, drop_request=0.03, drop_response=0.03, duplicate=0.03).start()
    try:
        tokens = register_agents(url, [f"agent{i:02d}" for i in range(AGENTS)])
        agents = {}
        for name, token in tokens.items():
            path = tmp_path / f"{name}.db"
            assert seed_agent_database(path, name, ROWS_PER_AGENT) == ROWS_PER_AGENT
            agents[name] = (path, token)
        results, _ = push_concurrently(agents, proxy.url)
        assert sum(r.rows for r in results) >= AGENTS * ROWS_PER_AGENT  # a dropped answer resends its batch
        assert proxy.stats["drop_request"] and proxy.stats["drop_response"] and proxy.stats["duplicate"]
        per_agent = dict(hub_query(postgres, url, "SELECT a.name, COUNT(*) FROM hub_rows r JOIN hub_agents a "
                                   "ON a.id = r.agent_id WHERE r.deleted_reason IS NULL GROUP BY a.name"))
        assert per_agent == dict.fromkeys(agents, ROWS_PER_AGENT)  # 0 missing (the key makes duplicates impossible)
        total, distinct = hub_query(postgres, url, "SELECT COUNT(*), COUNT(DISTINCT data->>'message_id') "
                                    "FROM hub_rows WHERE table_name = 'messages'")[0]
        assert total == distinct == AGENTS * (ROWS_PER_AGENT - 50) // 2  # 0 duplicated messages
        # Every row as the agent wrote it: same ids, same change_seq.
        for name, (path, _) in agents.items():
            with sqlite3.connect(path) as conn:
                local = {(t, i, s) for t in ("customers", "conversations", "messages", "ai_analysis")
                         for i, s in conn.execute(f"SELECT id, change_seq FROM {t}")}
            remote = set(hub_query(postgres, url, "SELECT r.table_name, r.row_id, r.change_seq FROM hub_rows r "
                                   "JOIN hub_agents a ON a.id = r.agent_id WHERE a.name = %s", (name,)))
            assert local == remote, name
        assert len(hub_query(postgres, url, "SELECT phone FROM customers")) == 25  # one shared profile per phone
        pids = {row[0] for row in hub_query(postgres, url, "SELECT pid FROM pg_stat_activity "
                                            "WHERE datname = current_database() AND pid <> pg_backend_pid()")}
        assert pids  # the workers' pools are open
    finally:
        proxy.stop()
        hub.stop()
