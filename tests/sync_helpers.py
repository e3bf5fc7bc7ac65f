"""Helpers for the team-hub tests: a hub on the test PostgreSQL, agents on SQLite, seeding, convergence checks."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from tests.helpers import ROOT, RunningService, _drain_in_background, _healthy, start_service, wait_until, write_config
from tests.postgres import PostgresCluster

SYNCED_TABLES = ("customers", "conversations", "messages", "ai_analysis", "knowledge")


def run_agent_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def start_hub(postgres: PostgresCluster, data_dir: Path,
              config: dict[str, Any] | None = None) -> tuple[RunningService, str]:
    url = postgres.create_database(f"hub_{uuid.uuid4().hex[:10]}")
    hub = start_service(data_dir, config=config, extra_args=("--hub", "--db", url))
    return hub, url


GUNICORN_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


def start_gunicorn_hub(db_url: str, data_dir: Path, workers: int, config: dict[str, Any] | None = None,
                       timeout: float = 60) -> RunningService:
    """The hub as production serves it: gunicorn with gevent workers (deploy/gunicorn.conf.py) on a free port."""
    import importlib.util

    assert importlib.util.find_spec("gunicorn") is not None, \
        "gunicorn is not installed: it is in requirements.txt; rebuild .venv (scripts/bootstrap.sh)"
    sections = {section: dict(values) for section, values in (config or {}).items()}
    sections.setdefault("database", {})["path"] = db_url
    write_config(data_dir, sections)
    env = {**os.environ, "CRM_AGENT_HOME": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "-w", str(workers),
         "-b", "127.0.0.1:0", "runtime.hub:create_hub_app()"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    port = None
    while port is None:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            raise AssertionError("gunicorn did not start:\n" + "".join(lines))
        lines.append(line)
        found = GUNICORN_LISTENING.search(line)
        port = int(found.group(1)) if found else None
    _drain_in_background(process)
    hub = RunningService(process, data_dir, port, None)
    wait_until(lambda: _healthy(hub), timeout=timeout, message="the gunicorn hub's /api/health")
    return hub


def add_agent(db_url: str, name: str) -> str:
    result = run_agent_cli("hub", "agent-add", name, "--db", db_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("crmhub_")
    return token


def sync_config(hub_url: str, **overrides: Any) -> dict[str, dict[str, Any]]:
    sync = {"hub_url": hub_url, "interval_s": 0.2, "batch_size": 500, "backoff_initial_s": 0.02,
            "backoff_max_s": 0.5, "retry_attempts": 20, "timeout_s": 20.0}
    sync.update(overrides)
    # Seeding sends thousands of captures a second: above the default per-client rate limit.
    return {"sync": sync, "ai": {"rules_worker": False},
            "security": {"rate_limit_per_s": 1_000_000.0, "rate_limit_burst": 1_000_000}}


def prepare_agent(data_dir: Path, token: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    result = run_agent_cli("sync", "set-token", "--token-stdin", "--data-dir", str(data_dir), stdin=token + "\n")
    assert result.returncode == 0, result.stderr
    assert (data_dir / "hub_token").stat().st_mode & 0o777 == 0o600


def start_agent(data_dir: Path, token: str, hub_url: str, **sync_overrides: Any) -> RunningService:
    prepare_agent(data_dir, token)
    return start_service(data_dir, config=sync_config(hub_url, **sync_overrides))


def phone(i: int) -> str:
    return f"+55 11 99{i:03d}-{1000 + i:04d}"


def captures(prefix: str, count: int, customers: int = 50) -> list[dict[str, Any]]:
    """count distinct messages over `customers` phone numbers shared by every agent (same numbers)."""
    base = 1_764_000_000_000
    return [{"message_id": f"wamid.{prefix}.{i}", "chat_id": f"5511990{i % customers:05d}@c.us",
             "phone": phone(i % customers), "name": f"Cliente {i % customers}",
             "content": f"mensagem {i} de {prefix}: quanto custa o plano?", "type": "text",
             "direction": "in" if i % 3 else "out", "timestamp": base + i * 1000} for i in range(count)]


def seed(agent: RunningService, bodies: list[dict[str, Any]], threads: int = 8) -> None:
    """Capture every message through the API (the real path), several requests in flight."""
    token = agent.token()
    chunks = [bodies[i::threads] for i in range(threads)]

    def send(chunk: list[dict[str, Any]]) -> int:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        stored = 0
        for body in chunk:
            r = session.post(agent.url + "/api/messages/capture", json=body, timeout=30)
            assert r.status_code in (200, 201), r.text
            stored += 1
        session.close()
        return stored

    with ThreadPoolExecutor(threads) as pool:
        assert sum(pool.map(send, chunks)) == len(bodies)


def agent_rows(data_dir: Path) -> dict[str, set[tuple[int, int]]]:
    """(row id, change_seq) of every synced row in an agent's SQLite file; a merged customer is an alias there,
    a tombstone on the hub, so it is left out."""
    conn = sqlite3.connect(data_dir / "crm_agent.db")
    try:
        return {t: set(conn.execute(f"SELECT id, change_seq FROM {t}"
                                    + (" WHERE kind <> 'merged'" if t == "customers" else "")).fetchall())
                for t in SYNCED_TABLES}
    finally:
        conn.close()


def agent_message_ids(data_dir: Path) -> set[str]:
    conn = sqlite3.connect(data_dir / "crm_agent.db")
    try:
        return {r[0] for r in conn.execute("SELECT message_id FROM messages")}
    finally:
        conn.close()


def hub_rows(postgres: PostgresCluster, db_url: str, agent: str) -> dict[str, set[tuple[int, int]]]:
    """(row id, change_seq) of the agent's live rows on the hub (tombstones left out)."""
    conn = postgres.connect(db_url.split("/")[3].split("?")[0])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT r.table_name, r.row_id, r.change_seq FROM hub_rows r JOIN hub_agents a "
                        "ON a.id = r.agent_id WHERE a.name = %s AND r.deleted_reason IS NULL", (agent,))
            out: dict[str, set[tuple[int, int]]] = {t: set() for t in SYNCED_TABLES}
            for table, row_id, seq in cur.fetchall():
                out[table].add((row_id, seq))
            return out
    finally:
        conn.close()


def hub_query(postgres: PostgresCluster, db_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = postgres.connect(db_url.split("/")[3].split("?")[0])
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def sync_health(agent: RunningService) -> dict[str, Any]:
    return requests.get(agent.url + "/api/health", timeout=10).json()["sync"]


def wait_synced(agents: dict[str, tuple[RunningService, Path]], postgres: PostgresCluster, db_url: str,
                timeout: float = 120) -> None:
    """Until each agent has nothing pending and the hub holds exactly its rows (same ids, same versions)."""

    def converged() -> bool:
        for name, (agent, data_dir) in agents.items():
            health = sync_health(agent)
            if health["pending_rows"] != 0 or health["last_success_at"] is None:
                return False
            if hub_rows(postgres, db_url, name) != agent_rows(data_dir):
                return False
        return True

    try:
        wait_until(converged, timeout=timeout, interval=0.5, message="agents and hub to converge")
    except AssertionError:
        report = {}
        for name, (agent, data_dir) in agents.items():
            local, remote = agent_rows(data_dir), hub_rows(postgres, db_url, name)
            report[name] = {"health": sync_health(agent),
                            "missing": {t: len(local[t] - remote[t]) for t in SYNCED_TABLES},
                            "extra": {t: len(remote[t] - local[t]) for t in SYNCED_TABLES}}
        raise AssertionError(f"agents and hub did not converge in {timeout}s: {report}") from None


def assert_no_missing_or_duplicated(postgres: PostgresCluster, db_url: str,
                                    agents: dict[str, Path]) -> None:
    union: set[str] = set()
    for name, data_dir in agents.items():
        local = agent_message_ids(data_dir)
        on_hub = hub_query(postgres, db_url, "SELECT r.data->>'message_id' FROM hub_rows r JOIN hub_agents a "
                           "ON a.id = r.agent_id WHERE a.name = %s AND r.table_name = 'messages' "
                           "AND r.deleted_reason IS NULL", (name,))
        ids = [r[0] for r in on_hub]
        assert len(ids) == len(set(ids)), f"{name}: duplicated messages on the hub"
        assert local - set(ids) == set(), f"{name}: {len(local - set(ids))} messages missing on the hub"
        assert set(ids) - local == set(), f"{name}: the hub holds messages the agent never had"
        union |= local
    total, distinct = hub_query(postgres, db_url, "SELECT COUNT(*), COUNT(DISTINCT data->>'message_id') "
                                "FROM hub_rows WHERE table_name = 'messages' AND deleted_reason IS NULL")[0]
    assert total == distinct == len(union)


def push_rows(hub_service: Any, token: str, rows: list[dict[str, Any]], upto: int) -> requests.Response:
    """POST /api/sync/push straight to a hub, as an agent's token holder would."""
    return requests.post(hub_service.url + "/api/sync/push", json={"upto": upto, "rows": rows},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
