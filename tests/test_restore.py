"""Restore (API and CLI), encrypted backups, progress events, the service lock; real service, files, kills."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import websocket

from storage.backup_crypto import load_key
from tests.helpers import ROOT, message, start_service, wait_until

CLI = [sys.executable, str(ROOT / "agent.py")]


def _message_ids(path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in conn.execute("SELECT message_id FROM messages")}


def _capture(svc, count, prefix):
    ids = []
    for i in range(count):
        body = message(content=f"{prefix} {i}")
        assert svc.post("/api/messages/capture", json=body).status_code == 201
        ids.append(body["message_id"])
    return ids


def _api_total(svc) -> int:
    return svc.get("/api/messages", params={"limit": 1}).json()["total"]


def test_restore_through_the_api_replaces_the_data_and_saves_the_current_database_first(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        kept = _capture(svc, 5, "antes")
        backup = svc.post("/api/system/backup").json()
        later = _capture(svc, 3, "depois")
        ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.local_token}", timeout=10)
        reply = svc.post("/api/system/restore", json={"name": backup["name"]})
        assert reply.status_code == 200, reply.text
        result = reply.json()
        assert result["restored"] == backup["name"] and result["schema_version"] >= 1
        safety = result["safety_backup"]
        assert safety["pre_restore"] and safety["status"] == "verified"
        assert _message_ids(safety["path"]) == set(kept + later)  # what the restore replaced is kept
        assert _api_total(svc) == 5
        assert {m["message_id"] for m in svc.get("/api/messages").json()["items"]} == set(kept)
        # The service goes on writing into the restored database, with change numbers above every one
        # handed out before the restore (incremental sync must not skip the new rows).
        after = _capture(svc, 2, "novo")
        assert _message_ids(svc.data_dir / "crm_agent.db") == set(kept + after)
        with sqlite3.connect(safety["path"]) as conn:
            highest_before = conn.execute("SELECT value FROM change_sequence").fetchone()[0]
        with sqlite3.connect(svc.data_dir / "crm_agent.db") as conn:
            new_seqs = [r[0] for r in conn.execute("SELECT change_seq FROM messages WHERE message_id IN (?, ?)",
                                                   after)]
        assert min(new_seqs) > highest_before
        types = []
        while "restore.completed" not in types:
            types.append(json.loads(ws.recv())["type"])
        ws.close()
        assert "restore.state" in types and "backup.progress" in types
        listing = svc.get("/api/system/backups").json()
        assert listing["running"] is None and listing["last"]["kind"] == "restore" and listing["last"]["ok"]
        assert any(item["pre_restore"] for item in listing["items"])
    finally:
        svc.stop()


def test_restore_accepts_only_backup_names_and_admins(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        secret = tmp_path / "elsewhere.db"
        secret.write_bytes(b"not yours")
        for name in ("../elsewhere.db", str(secret), "backups/x.db", ".hidden", "a/b"):
            reply = svc.post("/api/system/restore", json={"name": name})
            assert reply.status_code == 422 and reply.json()["error"]["field"] == "name", (name, reply.text)
        assert svc.post("/api/system/restore", json={"name": "crm_agent-nope.db"}).status_code == 404
        assert svc.post("/api/system/restore", json={"path": "/etc/passwd"}).status_code == 422
        subprocess.run([*CLI, "user", "add", "seller", "--password-stdin", "--data-dir", str(svc.data_dir)],
                       input="seller-password\n", text=True, check=True, capture_output=True)
        token = svc.post("/api/auth/login", token=None,
                         json={"username": "seller", "password": "seller-password"}).json()["access_token"]
        name = svc.post("/api/system/backup").json()["name"]
        assert svc.post("/api/system/restore", token=token, json={"name": name}).status_code == 403
        assert svc.post("/api/system/maintenance", token=token).status_code == 403
    finally:
        svc.stop()


def test_encrypted_backup_round_trip_and_key_file(tmp_path):
    svc = start_service(tmp_path / "agent", config={"database": {"backup_encryption": True}})
    try:
        kept = _capture(svc, 4, "segredo do cliente")
        backup = svc.post("/api/system/backup").json()
        assert backup["encrypted"] and backup["name"].endswith(".db.enc")
        key_file = svc.data_dir / "backup.key"
        assert key_file.stat().st_mode & 0o777 == 0o600 and load_key(key_file) is not None
        data = (svc.data_dir / "backups" / backup["name"]).read_bytes()
        assert b"SQLite format 3" not in data and b"segredo do cliente" not in data
        _capture(svc, 2, "depois")
        reply = svc.post("/api/system/restore", json={"name": backup["name"]})
        assert reply.status_code == 200, reply.text
        assert reply.json()["safety_backup"]["encrypted"]
        assert {m["message_id"] for m in svc.get("/api/messages").json()["items"]} == set(kept)
        assert key_file.read_text().strip() not in svc.log_text()
    finally:
        svc.stop()


def test_wrong_or_missing_key_fails_clearly_and_leaves_the_live_database_alone(tmp_path):
    svc = start_service(tmp_path / "agent", config={"database": {"backup_encryption": True}})
    try:
        _capture(svc, 3, "antes")
        name = svc.post("/api/system/backup").json()["name"]
        current = _capture(svc, 2, "depois")
        key_file = svc.data_dir / "backup.key"
        original_key = key_file.read_text()
        key_file.write_text("ab" * 32 + "\n")
        reply = svc.post("/api/system/restore", json={"name": name})
        assert reply.status_code == 422 and reply.json()["error"]["code"] == "backup_key"
        assert "different key" in reply.json()["error"]["message"]
        key_file.unlink()
        reply = svc.post("/api/system/restore", json={"name": name})
        assert reply.status_code == 422 and "no backup key" in reply.json()["error"]["message"]
        assert _api_total(svc) == 5
        assert set(current) <= _message_ids(svc.data_dir / "crm_agent.db")
        assert not any(item["pre_restore"] for item in svc.get("/api/system/backups").json()["items"])
        assert svc.post("/api/messages/capture", json=message()).status_code == 201  # not left paused
        key_file.write_text(original_key)
        assert svc.post("/api/system/restore", json={"name": name}).status_code == 200
        assert _api_total(svc) == 3
    finally:
        svc.stop()


def test_restore_while_capturing_loses_no_acknowledged_capture(tmp_path):
    """Acknowledged before the restore -> in the safety backup; after it -> in the restored database."""
    svc = start_service(tmp_path / "agent")
    try:
        base = set(_capture(svc, 20, "base"))
        backup = svc.post("/api/system/backup").json()["name"]
        acknowledged: list[tuple[float, str]] = []  # (time of the answer, message id)
        refused = []
        stop = threading.Event()

        def writer(n):
            import requests

            session = requests.Session()
            headers = {"Authorization": f"Bearer {svc.local_token}"}
            i = 0
            while not stop.is_set():
                body = message(content=f"durante {n} {i}")
                while True:  # like the extension: retry the same message until it is acknowledged
                    reply = session.post(svc.url + "/api/messages/capture", json=body, headers=headers, timeout=30)
                    if reply.status_code in (200, 201):
                        acknowledged.append((time.monotonic(), body["message_id"]))
                        break
                    assert reply.status_code == 503 and reply.headers["Retry-After"], reply.text
                    refused.append(body["message_id"])
                    time.sleep(0.01)
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(acknowledged) >= 30, timeout=30, message="captures before the restore")
            restore_sent = time.monotonic()
            reply = svc.post("/api/system/restore", json={"name": backup})
            restore_answered = time.monotonic()
            wait_until(lambda: sum(1 for at, _ in acknowledged if at > restore_answered) >= 30, timeout=30,
                       message="captures after the restore")
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert reply.status_code == 200, reply.text
        safety = _message_ids(reply.json()["safety_backup"]["path"])
        live = _message_ids(svc.data_dir / "crm_agent.db")
        acked = {mid for _, mid in acknowledged}
        assert acked <= safety | live, "an acknowledged capture is in neither database"
        before = {mid for at, mid in acknowledged if at < restore_sent}
        after = {mid for at, mid in acknowledged if at > restore_answered}
        assert before <= safety and after <= live
        assert live - after == base  # the restored state is the backup's, plus what came after
        assert not (before & live)
        assert set(refused) <= acked  # every capture refused with 503 was stored on its retry
    finally:
        svc.stop()


def test_cli_restore_goes_through_a_running_service(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        kept = _capture(svc, 3, "antes")
        made = subprocess.run([*CLI, "backup", "now", "--data-dir", str(svc.data_dir)], capture_output=True,
                              text=True)
        assert made.returncode == 0, made.stderr
        outside = tmp_path / "copy-of-backup.db"
        outside.write_bytes(next((svc.data_dir / "backups").glob("crm_agent-*.db")).read_bytes())
        _capture(svc, 2, "depois")
        done = subprocess.run([*CLI, "backup", "restore", str(outside), "--data-dir", str(svc.data_dir)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "restored import-" in done.stdout and "pre-restore" in done.stdout
        assert {m["message_id"] for m in svc.get("/api/messages").json()["items"]} == set(kept)
        assert not list((svc.data_dir / "backups").glob("import-*"))  # the temporary copy is gone
        assert svc.get("/api/system/backups").json()["last"]["kind"] == "restore"  # the service did it
    finally:
        svc.stop()


def _fresh_data_dir(tmp_path):
    data_dir = tmp_path / "agent"
    subprocess.run([*CLI, "user", "add", "first", "--password-stdin", "--data-dir", str(data_dir)],
                   input="password-1\n", text=True, check=True, capture_output=True)
    return data_dir


def _users(data_dir) -> set[str]:
    with sqlite3.connect(data_dir / "crm_agent.db") as conn:
        return {row[0] for row in conn.execute("SELECT username FROM users")}


def test_cli_restore_without_service_and_a_tampered_file_changes_nothing(tmp_path):
    data_dir = _fresh_data_dir(tmp_path)
    (data_dir / "config.json").write_text(json.dumps({"database": {"backup_encryption": True}}))
    made = subprocess.run([*CLI, "backup", "now", "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert made.returncode == 0 and "encrypted" in made.stdout, made.stderr
    backup = next((data_dir / "backups").glob("*.db.enc"))
    subprocess.run([*CLI, "user", "add", "second", "--password-stdin", "--data-dir", str(data_dir)],
                   input="password-2\n", text=True, check=True, capture_output=True)
    tampered = tmp_path / "tampered.db.enc"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    refused = subprocess.run([*CLI, "backup", "restore", str(tampered), "--data-dir", str(data_dir)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "tampered" in refused.stderr and "unchanged" in refused.stderr
    assert _users(data_dir) >= {"first", "second"}
    done = subprocess.run([*CLI, "backup", "restore", str(backup), "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "second" not in _users(data_dir) and "first" in _users(data_dir)
    safety = next((data_dir / "backups").glob("*-pre-restore.db.enc"))
    assert safety.exists()
    listing = subprocess.run([*CLI, "backup", "list", "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert "encrypted pre-restore" in listing.stdout


def test_a_service_waits_while_the_cli_holds_the_data_directory_lock(tmp_path):
    from core.oslock import FileLock

    data_dir = _fresh_data_dir(tmp_path)
    lock = FileLock(data_dir / "service.lock")
    assert lock.acquire(5)
    proc = subprocess.Popen([*CLI, "serve", "--port", "0", "--data-dir", str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert "waiting for the data directory's lock" in proc.stderr.readline()
        assert proc.poll() is None and not (data_dir / "service.json").exists()
        lock.release()
        assert "listening on" in proc.stdout.readline()
        assert not FileLock(data_dir / "service.lock").try_acquire()  # now the service holds it
    finally:
        lock.release()
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def _ballast(db_path, megabytes):
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ballast (id INTEGER PRIMARY KEY, data BLOB)")
        conn.executemany("INSERT INTO ballast (data) VALUES (?)",
                         [(bytes([i % 251]) * 65536,) for i in range(megabytes * 16)])


def test_kill_during_a_cli_restore_leaves_the_old_database_and_the_next_restore_succeeds(tmp_path):
    data_dir = _fresh_data_dir(tmp_path)
    _ballast(data_dir / "crm_agent.db", 150)
    made = subprocess.run([*CLI, "backup", "now", "--data-dir", str(data_dir)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    backup = next((data_dir / "backups").glob("*.db"))
    with sqlite3.connect(data_dir / "crm_agent.db") as conn:
        conn.execute("UPDATE ballast SET data = zeroblob(65536)")  # every page differs from the backup
        conn.execute("INSERT INTO ballast (data) VALUES (x'01')")
    proc = subprocess.Popen([*CLI, "backup", "restore", str(backup), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Kill it while the restore writes into the live database (after the safety backup is in place).
    wait_until(lambda: list((data_dir / "backups").glob("*-pre-restore.db")), timeout=120, interval=0.005,
               message="the safety backup")
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    with sqlite3.connect(data_dir / "crm_agent.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM ballast").fetchone()[0] == 150 * 16 + 1  # still the old content
    again = subprocess.run([*CLI, "backup", "restore", str(backup), "--data-dir", str(data_dir)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(data_dir / "crm_agent.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM ballast").fetchone()[0] == 150 * 16
    assert not (data_dir / "restore-candidate.db").exists()


def test_backup_progress_is_published_and_listed_while_it_runs(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        _ballast(svc.data_dir / "crm_agent.db", 150)
        result = {}
        worker = threading.Thread(target=lambda: result.update(reply=svc.post("/api/system/backup", timeout=300)))
        worker.start()
        running = wait_until(lambda: svc.get("/api/system/backups").json()["running"], timeout=60, interval=0.005,
                             message="the backup listed as running")
        worker.join(300)
        assert result["reply"].status_code == 201
        assert running["kind"] == "backup" and running["phase"] in ("starting", "copy", "verify")
        assert 0 <= running["percent"] <= 100
        ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.local_token}&since=1",
                                         timeout=10)
        progress = []
        while True:
            event = json.loads(ws.recv())
            if event["type"] == "backup.completed":
                break
            if event["type"] == "backup.progress":
                progress.append(event["data"])
        ws.close()
        copy = [p["percent"] for p in progress if p["phase"] == "copy"]
        assert copy == sorted(copy) and copy[-1] == 100.0 and len(copy) >= 2
        assert progress[-1]["phase"] == "verify" and all(p["kind"] == "backup" for p in progress)
        assert copy[0] < 100.0  # reported while copying, not only at the end
        assert svc.get("/api/system/backups").json()["last"]["ok"] is True
    finally:
        svc.stop()


def test_scheduled_backups_and_maintenance_run_on_their_own(tmp_path):
    config = {"database": {"backup_interval_s": 1, "maintenance_interval_s": 1, "max_backups": 2}}
    svc = start_service(tmp_path / "agent", config=config)
    try:
        backups = svc.data_dir / "backups"
        wait_until(lambda: len(list(backups.glob("crm_agent-*.db"))) == 2, timeout=30, message="two backups")
        log_file = svc.data_dir / "logs" / "agent.log"
        wait_until(lambda: "database maintenance:" in log_file.read_text(), timeout=30, message="a maintenance run")
        first = sorted(backups.glob("crm_agent-*.db"))[0].name
        wait_until(lambda: first not in {p.name for p in backups.glob("crm_agent-*.db")}, timeout=30,
                   message="a third backup replacing the oldest")
    finally:
        svc.stop()
