"""Durability of acknowledged captures (issue 14): commits on disk before the answer, replays that never break
the group commit and whose changed content is recorded, a WAL that stays bounded under a steady load."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from api.schemas import CaptureRequest
from core.config import load_config
from core.paths import DataDir
from runtime.build import build_service
from tests.helpers import message, start_service, strace_attached

WAL_BOUND_BYTES = 16 * 1024 * 1024


def _wal_bytes(data_dir) -> int:
    wal = data_dir / "crm_agent.db-wal"
    return wal.stat().st_size if wal.exists() else 0


def _chat(number: int) -> dict[str, str]:
    return {"chat_id": f"5511{number:09d}@c.us", "phone": f"+5511{number:09d}"}


def test_the_wal_stays_bounded_through_10000_captures(tmp_path):
    # A steady load: two clients send batches, two send single captures, all at once, so the service commits
    # without pause. The PASSIVE checkpoint alone never caught up with that and the WAL grew ~85 KB a capture.
    data_dir = tmp_path / "agent"
    svc = start_service(data_dir)
    token = svc.local_token
    largest = [0]
    sampling = threading.Event()

    def sample_wal() -> None:
        while not sampling.wait(0.05):
            largest[0] = max(largest[0], _wal_bytes(data_dir))

    def post(path: str, body: dict, session: requests.Session) -> requests.Response:
        r = session.post(svc.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert r.status_code in (200, 201), r.text[:300]
        return r

    def batches(client: int) -> int:
        session = requests.Session()
        stored = 0
        for b in range(46):
            items = [message(message_id=f"b{client}-{b}-{i}", content=f"pedido {b} item {i}",
                             **_chat(client * 1000 + (b * 100 + i) % 300)) for i in range(100)]
            results = post("/api/messages/capture/batch", {"messages": items}, session).json()["results"]
            stored += sum(1 for r in results if r["status"] == 201)
        return stored

    def singles(client: int) -> int:
        session = requests.Session()
        for i in range(400):
            post("/api/messages/capture",
                 message(message_id=f"s{client}-{i}", content=f"oi {i}", **_chat(client * 1000 + i % 50)), session)
        return 400

    sampler = threading.Thread(target=sample_wal)
    sampler.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(batches, 1), pool.submit(batches, 2), pool.submit(singles, 3),
                       pool.submit(singles, 4)]
            created = sum(f.result() for f in futures)
        assert created == 2 * 46 * 100 + 2 * 400 == 10_000
        largest[0] = max(largest[0], _wal_bytes(data_dir))
        total = svc.get("/api/messages?limit=1", token=token).json()["total"]
        assert total == 10_000
    finally:
        sampling.set()
        sampler.join()
        svc.stop()
    assert largest[0] <= WAL_BOUND_BYTES, f"the WAL reached {largest[0] / 1e6:.1f} MB"
    with sqlite3.connect(data_dir / "crm_agent.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 10_000


def test_a_capture_is_answered_after_its_commit_which_runs_with_synchronous_full(tmp_path):
    # What can be checked without pulling the plug: the connection that commits captures runs with
    # synchronous=FULL (SQLite then fsyncs the WAL inside COMMIT), and the capture returns only after that COMMIT.
    config = load_config(None).with_overrides({"ai.llm_enabled": False})
    service = build_service(config, DataDir(tmp_path / "agent"))
    statements: list[str] = []
    try:
        assert service.db.synchronous == "full"
        service.db.trace(statements.append)
        answer, created = service.pipeline.capture(CaptureRequest.model_validate(message(message_id="durable-1")))
        service.db.trace(None)
        assert created and answer["duplicate"] is False
        insert = next(i for i, sql in enumerate(statements) if sql.startswith("INSERT INTO messages"))
        commits = [i for i, sql in enumerate(statements) if sql == "COMMIT"]
        assert commits and commits[-1] > insert  # the message's transaction ended before capture() returned
        assert not any(sql.startswith(("INSERT", "UPDATE")) for sql in statements[commits[-1]:])
        with sqlite3.connect(tmp_path / "agent" / "crm_agent.db") as other:  # visible to another connection
            assert other.execute("SELECT COUNT(*) FROM messages WHERE message_id = 'durable-1'").fetchone()[0] == 1
    finally:
        service.close()


def test_synchronous_normal_can_be_chosen(tmp_path):
    config = load_config(None).with_overrides({"ai.llm_enabled": False, "database.synchronous": "normal"})
    service = build_service(config, DataDir(tmp_path / "agent"))
    try:
        assert service.db.synchronous == "normal"
    finally:
        service.close()


def _conflicts(data_dir) -> list[tuple]:
    with sqlite3.connect(data_dir / "crm_agent.db") as conn:
        return conn.execute("SELECT message_id, field, stored_value, replayed_value, times FROM capture_conflicts "
                            "ORDER BY id").fetchall()


def test_replays_in_a_batch_keep_its_group_commit_and_a_changed_replay_is_recorded_as_a_conflict(fresh_service):
    svc = fresh_service
    kept, edited = message(message_id="replay-kept"), message(message_id="replay-edited", content="original")
    for body in (kept, edited):
        assert svc.post("/api/messages/capture", json=body).status_code == 201
    batch = [kept, dict(edited, content="changed on the way"), message(message_id="replay-new"),
             message(message_id="twin", content="first copy"), message(message_id="twin", content="second copy")]
    results = svc.post("/api/messages/capture/batch", json={"messages": batch}).json()["results"]
    assert [(r["status"], r["duplicate"], r["conflict"]) for r in results] == [
        (200, True, False), (200, True, True), (201, False, False), (201, False, False), (200, True, True)]
    assert _conflicts(svc.data_dir) == [("replay-edited", "content", "original", "changed on the way", 1),
                                        ("twin", "content", "first copy", "second copy", 1)]
    # The same changed replay again (a retrying extension): counted, not recorded twice; a single capture too.
    again = svc.post("/api/messages/capture", json=dict(edited, content="changed on the way"))
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["conflict"] is True
    assert _conflicts(svc.data_dir)[0][4] == 2
    stored = svc.get(f"/api/messages/{results[1]['id']}").json()
    assert stored["content"] == "original"  # the stored message is kept
    log = svc.log_text()
    assert "writing them one by one" not in log and "Traceback" not in log
    lines = [line for line in log.splitlines() if "replayed with a different" in line]
    assert len(lines) == 3 and all("the conflict recorded" in line for line in lines)


def _strace_lines(trace_text: str) -> list[tuple[str, str]]:
    """(thread id, call) for each complete line strace wrote (-f: every line starts with the thread id)."""
    lines = []
    for line in trace_text.splitlines():
        tid, _, call = line.partition(" ")
        if tid.isdigit() and "resumed>" not in call and "<unfinished" not in call:
            lines.append((tid, call.strip()))
    return lines


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install strace)")
def test_the_201_is_sent_after_the_wal_holding_the_capture_is_fsynced(tmp_path):
    # The real thing, short of pulling the plug: strace attached to the running service shows, on the thread
    # that answers, the commit's WAL writes, then an fdatasync of the WAL, then the 201 leaving. With
    # synchronous=NORMAL the commit writes the WAL and answers without syncing it (only checkpoints sync).
    data_dir = tmp_path / "agent"
    svc = start_service(data_dir)
    trace = tmp_path / "strace.txt"
    try:
        with strace_attached(svc.process.pid, trace, "pwrite64,fdatasync,fsync,sendto,sendmsg,write,writev",
                             "-y", "-s", "24"):
            for i in range(3):
                r = svc.post("/api/messages/capture", token=svc.local_token, json=message(message_id=f"synced-{i}"))
                assert r.status_code == 201
    finally:
        svc.stop()
    calls = _strace_lines(trace.read_text())
    answers = [i for i, (_, call) in enumerate(calls) if "HTTP/1.1 201" in call]
    assert len(answers) == 3, f"{len(answers)} answers seen in {len(calls)} calls"
    for answer in answers:
        tid = calls[answer][0]
        own = [call for t, call in calls[:answer] if t == tid]
        last_wal_write = max(i for i, call in enumerate(own) if call.startswith("pwrite64(") and "-wal>" in call)
        synced = [call for call in own[last_wal_write:]
                  if call.startswith(("fdatasync(", "fsync(")) and "-wal>" in call]
        assert synced, f"the 201 left without an fsync of the WAL after its commit: {own[last_wal_write:][:6]}"


def test_every_database_the_service_opens_is_in_wal_mode(tmp_path):
    # The durability and checkpoint logic above assume WAL: a rollback journal would fsync differently, block
    # readers during writes and leave the WAL checkpointer nothing to do.
    from storage.database import Database

    db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert db.scalar("PRAGMA journal_mode") == "wal"
    finally:
        db.close()
