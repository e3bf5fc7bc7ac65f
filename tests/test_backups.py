"""Verified backups: under concurrent writes, retention, a kill mid-backup, CLI and API."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading

from tests.helpers import ROOT, message, start_service, wait_until


def _count(path, table="messages"):
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_backup_under_concurrent_writes_is_consistent(tmp_path):
    svc = start_service(tmp_path / "agent", config={"database": {"max_backups": 2}})
    try:
        for i in range(50):
            svc.post("/api/messages/capture", json=message(content=f"antes {i}"))
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                svc.post("/api/messages/capture", json=message(content=f"durante {i}"))

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            results = [svc.post("/api/system/backup") for _ in range(3)]
        finally:
            stop.set()
            thread.join(30)
        assert all(r.status_code == 201 for r in results), [r.text for r in results]
        last = results[-1].json()
        assert last["status"] == "verified" and last["size_bytes"] > 0
        restored_messages = _count(last["path"])
        assert restored_messages >= 50
        # Every message in the backup has its analysis and its customer: the copy is one consistent state.
        with sqlite3.connect(last["path"]) as conn:
            orphans = conn.execute("SELECT COUNT(*) FROM messages m LEFT JOIN ai_analysis a ON a.message_id = m.id "
                                   "WHERE a.id IS NULL").fetchone()[0]
            assert orphans == 0
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        listed = svc.get("/api/system/backups").json()
        assert [b["name"] for b in listed["items"]] == [results[2].json()["name"], results[1].json()["name"]]
        assert listed["keep"] == 2
        assert all((tmp_path / "agent" / "backups" / b["name"]).stat().st_mode & 0o777 == 0o600
                   for b in listed["items"])
    finally:
        svc.stop()


def test_backup_needs_admin(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        subprocess.run([sys.executable, str(ROOT / "agent.py"), "user", "add", "seller", "--password-stdin",
                        "--data-dir", str(svc.data_dir)], input="seller-password\n", text=True, check=True,
                       capture_output=True)
        token = svc.post("/api/auth/login", token=None,
                         json={"username": "seller", "password": "seller-password"}).json()["access_token"]
        assert svc.post("/api/system/backup", token=token).status_code == 403
        assert svc.get("/api/system/backups", token=token).status_code == 403
    finally:
        svc.stop()


def _fill(db_path, megabytes):
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ballast (id INTEGER PRIMARY KEY, data BLOB)")
        blob = b"x" * 65536
        conn.executemany("INSERT INTO ballast (data) VALUES (?)", [(blob,) for _ in range(megabytes * 16)])


def test_kill_during_backup_keeps_earlier_backups_and_next_one_succeeds(tmp_path):
    data_dir = tmp_path / "agent"
    cli = [sys.executable, str(ROOT / "agent.py"), "backup"]
    subprocess.run([sys.executable, str(ROOT / "agent.py"), "user", "add", "x", "--password-stdin",
                    "--data-dir", str(data_dir)], input="password-x\n", text=True, check=True, capture_output=True)
    first = subprocess.run([*cli, "now", "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    earlier = sorted((data_dir / "backups").glob("*.db"))
    assert len(earlier) == 1
    earlier_bytes = earlier[0].read_bytes()
    _fill(data_dir / "crm_agent.db", 300)
    proc = subprocess.Popen([*cli, "now", "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    partial = wait_until(lambda: list((data_dir / "backups").glob("*.partial")), timeout=60, interval=0.005,
                         message="the backup in progress")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert partial[0].exists()  # killed midway
    assert earlier[0].read_bytes() == earlier_bytes
    assert len(list((data_dir / "backups").glob("*.db"))) == 1
    again = subprocess.run([*cli, "now", "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert not list((data_dir / "backups").glob("*.partial"))
    backups = sorted((data_dir / "backups").glob("*.db"))
    assert len(backups) == 2 and _count(backups[-1], "ballast") == 300 * 16
    listing = subprocess.run([*cli, "list", "--data-dir", str(data_dir)], capture_output=True, text=True).stdout
    assert listing.count("verified") == 2
