"""Crash loops: the service SIGKILLed 50 times at random moments under a capture load, restarted each time by a
core/supervisor.py ChildProcess (what the tray runs it with), loses and duplicates nothing it acknowledged.

The load is what the browser extension does: several clients send single captures and batches, and resend
every capture not answered 2xx (same message_id) until it is; a batch's unanswered items go again in the next
batch. At the end every capture ever sent has been acknowledged, and the database holds each exactly once:
its message row, one analysis, one count in its conversation and one in the hourly roll-ups.

The kill moments come from a seeded random generator (CRASH_LOOP_SEED, default 14; printed in every failure),
most after the service listens, some while it starts (migrations, secrets, the rules worker).
"""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from core.supervisor import ChildProcess, RestartBackoff
from tests.helpers import ROOT, write_config
from tests.pairing_helpers import ORIGIN, as_extension, pair

KILLS = 50
CLIENTS = 4
SEED = int(os.environ.get("CRASH_LOOP_SEED", "14"))
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def healthy(url: str) -> bool:
    try:
        return requests.get(url + "/api/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def capture_body(client: int, n: int) -> dict[str, Any]:
    """A realistic capture; chats shared between clients, so conversations and customers see concurrent writes."""
    chat = (client * 7 + n) % 23
    return {"message_id": f"wamid.loop.{client}.{n}", "chat_id": f"55119{chat:08d}@c.us",
            "phone": f"+55 11 9{chat:04d}-{1000 + chat:04d}", "name": f"Cliente {chat}",
            "content": f"mensagem {n} do cliente {client}: quanto custa o plano?", "type": "text",
            "direction": "in" if n % 3 else "out", "timestamp": 1_764_000_000_000 + n * 1000 + client}


@dataclass
class Ledger:
    """What the clients sent and what the service acknowledged, across every restart."""

    sent: set[str] = field(default_factory=set)
    acknowledged: dict[str, int] = field(default_factory=dict)  # message_id -> first 2xx status (201 or 200)
    answers: dict[int, int] = field(default_factory=dict)  # HTTP status (0: no answer) -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, status: int) -> None:
        with self.lock:
            self.answers[status] = self.answers.get(status, 0) + 1

    def ack(self, message_id: str, status: int) -> None:
        with self.lock:
            self.acknowledged.setdefault(message_id, status)


class ExtensionLike:
    """One client: a queue of unacknowledged captures, resent until each is answered 2xx."""

    def __init__(self, number: int, url: str, token: str, ledger: Ledger, rng: random.Random) -> None:
        self.number, self.url, self.token, self.ledger, self.rng = number, url, token, ledger, rng
        self.pending: list[dict[str, Any]] = []
        self.next_n = 0
        self.session = requests.Session()

    def run(self, producing: threading.Event, finished: threading.Event) -> None:
        while not finished.is_set():
            if producing.is_set() and len(self.pending) < 30:
                self._produce()
            if not self.pending:
                if not producing.is_set():
                    return  # everything acknowledged
                continue
            if len(self.pending) > 1 and self.rng.random() < 0.4:
                self._send_batch(self.pending[:self.rng.randint(2, 25)])
            else:
                self._send_one(self.pending[0])

    def _produce(self) -> None:
        for _ in range(self.rng.randint(1, 10)):
            body = capture_body(self.number, self.next_n)
            self.next_n += 1
            self.pending.append(body)
            with self.ledger.lock:
                self.ledger.sent.add(body["message_id"])

    def _post(self, path: str, body: dict[str, Any]) -> requests.Response | None:
        try:
            response = self.session.post(self.url + path, json=body, headers=as_extension(self.token), timeout=10)
        except requests.RequestException:
            self.ledger.note(0)
            self.session.close()  # the old connection died with the service
            self.session = requests.Session()
            time.sleep(0.05)  # the extension backs off too; the service is restarting
            return None
        self.ledger.note(response.status_code)
        if response.status_code >= 300:
            time.sleep(0.05)
        return response

    def _send_one(self, body: dict[str, Any]) -> None:
        response = self._post("/api/messages/capture", body)
        if response is not None and response.status_code in (200, 201):
            self._acknowledged({body["message_id"]: response.status_code})

    def _send_batch(self, bodies: list[dict[str, Any]]) -> None:
        response = self._post("/api/messages/capture/batch", {"messages": bodies})
        if response is None or response.status_code != 200:
            return
        results = response.json()["results"]
        assert len(results) == len(bodies), f"seed {SEED}: {len(results)} results for {len(bodies)} captures"
        self._acknowledged({body["message_id"]: result["status"] for body, result in zip(bodies, results)
                            if result["status"] in (200, 201)})

    def _acknowledged(self, statuses: dict[str, int]) -> None:
        for message_id, status in statuses.items():
            self.ledger.ack(message_id, status)
        self.pending = [body for body in self.pending if body["message_id"] not in statuses]


def serve_command(data_dir: Path, port: int) -> list[str]:
    return [sys.executable, str(ROOT / "agent.py"), "serve", "--port", str(port), "--data-dir", str(data_dir)]


def start_and_wait(child: ChildProcess, port: int) -> bool:
    """The supervisor's restart: wait out the back-off, start, True once the service listens."""
    time.sleep(child.seconds_until_restart())
    child.start()
    return child.wait_ready(lambda: accepts(port), READY_TIMEOUT_S)


def kill(child: ChildProcess) -> None:
    child.kill()
    child.failed()  # as the tray's supervisor notes an exit it did not ask for: the back-off grows


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not healthy(url):
        assert time.monotonic() < deadline, f"seed {SEED}: the service never became healthy"
        time.sleep(0.05)


def stored_state(db_path: Path) -> dict[str, Any]:
    connection = sqlite3.connect(db_path)
    try:
        def one(sql: str) -> Any:
            return connection.execute(sql).fetchone()[0]

        return {
            "integrity": [row[0] for row in connection.execute("PRAGMA integrity_check")],
            "message_ids": [row[0] for row in connection.execute("SELECT message_id FROM messages")],
            "messages": one("SELECT COUNT(*) FROM messages"),
            "messages_without_one_analysis": one(
                "SELECT COUNT(*) FROM messages m WHERE (SELECT COUNT(*) FROM ai_analysis a "
                "WHERE a.message_id = m.id) != 1"),
            "conversation_counts": one("SELECT COALESCE(SUM(message_count), 0) FROM conversations"),
            "rolled_up": one("SELECT COALESCE(SUM(value), 0) FROM metrics_hourly WHERE name = 'messages'"),
        }
    finally:
        connection.close()


def test_fifty_sigkills_under_capture_load_keep_every_acknowledged_capture_exactly_once(tmp_path):
    rng = random.Random(SEED)
    data_dir = tmp_path / "agent"
    # The LLM is off (only the tests about it pay for the model); the rules worker runs, as by default.
    write_config(data_dir, {"ai": {"llm_enabled": False}})
    port = free_port()  # fixed across restarts, as the extension's configured address
    url = f"http://127.0.0.1:{port}"
    # Standard output goes nowhere (the first start prints the admin password there); the log is in logs/.
    errors = (tmp_path / "service-stderr.log").open("ab")
    child = ChildProcess("service", serve_command(data_dir, port), stdout=subprocess.DEVNULL, stderr=errors,
                         backoff=RestartBackoff(first_s=0.05, maximum_s=0.2, jitter_s=0.05), grace_s=10)
    ledger = Ledger()
    producing, finished = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []
    kills = {"while serving": 0, "while starting": 0}
    try:
        assert start_and_wait(child, port), f"seed {SEED}: first start"
        wait_healthy(url)
        token = pair(url, (data_dir / "local_token").read_text().strip(), name="Crash loop", origin=ORIGIN)["token"]
        producing.set()
        clients = [ExtensionLike(n, url, token, ledger, random.Random(SEED * 100 + n)) for n in range(CLIENTS)]
        threads = [threading.Thread(target=c.run, args=(producing, finished), daemon=True) for c in clients]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        while sum(kills.values()) < KILLS:
            if rng.random() < 0.15 and sum(kills.values()) <= KILLS - 2:
                # Kill it while it starts (opening the database, migrations, the rules worker): restart at
                # once and kill again at a random moment of that start.
                kill(child)
                kills["while serving"] += 1
                time.sleep(child.seconds_until_restart())
                child.start()
                time.sleep(rng.uniform(0.05, 1.0))
                kills["while starting"] += 1
            else:
                time.sleep(rng.uniform(0.0, 1.5))  # the service listens and the load is on it
                kills["while serving"] += 1
            kill(child)
            assert start_and_wait(child, port), f"seed {SEED}: no restart after kill {sum(kills.values())}"
        loop_s = time.monotonic() - started
        producing.clear()  # no new captures: the clients resend what is left until it is acknowledged
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads), f"seed {SEED}: captures still unacknowledged after 60 s"
        assert healthy(url), f"seed {SEED}: the service is not healthy after the loop"
    finally:
        finished.set()
        for thread in threads:
            thread.join(15)
        child.stop()
        errors.close()

    print(f"seed {SEED}: {KILLS} kills ({kills}) in {loop_s:.0f} s; {len(ledger.sent)} captures sent, "
          f"{sum(s == 201 for s in ledger.acknowledged.values())} first acknowledged as stored (201), "
          f"{sum(s == 200 for s in ledger.acknowledged.values())} as duplicates (200: stored by a request whose "
          f"answer was lost); HTTP answers {dict(sorted(ledger.answers.items()))} (0: none)")
    assert len(ledger.acknowledged) > 10 * KILLS, f"seed {SEED}: too little load ({len(ledger.acknowledged)})"
    assert set(ledger.acknowledged) == ledger.sent, f"seed {SEED}: some captures were never acknowledged"
    state = stored_state(data_dir / "crm_agent.db")
    assert state["integrity"] == ["ok"], f"seed {SEED}: integrity_check {state['integrity'][:5]}"
    stored = state["message_ids"]
    missing = sorted(set(ledger.acknowledged) - set(stored))
    assert missing == [], f"seed {SEED}: {len(missing)} acknowledged captures lost, e.g. {missing[:5]}"
    assert len(stored) == len(set(stored)) == len(ledger.sent), f"seed {SEED}: stored {len(stored)} rows for " \
        f"{len(ledger.sent)} captures"
    assert state["messages_without_one_analysis"] == 0, f"seed {SEED}: messages without exactly one analysis"
    assert state["conversation_counts"] == state["messages"], f"seed {SEED}: conversations count " \
        f"{state['conversation_counts']} messages for {state['messages']}"
    assert state["rolled_up"] == state["messages"], f"seed {SEED}: the hourly roll-ups count " \
        f"{state['rolled_up']} messages for {state['messages']}"

