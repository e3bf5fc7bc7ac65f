"""A damaged database at start-up (truncated, a garbage page, not a database, emptied): `agent.py serve` refuses
with one line naming the newest verified backup, never a traceback nor a new empty database, and
`agent.py backup restore --latest` brings the backup back."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, message, start_service

CLI = [sys.executable, str(ROOT / "agent.py")]


def _ids(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in conn.execute("SELECT message_id FROM messages")}


@pytest.fixture(scope="module")
def stopped_agent(tmp_path_factory) -> tuple[Path, set[str], str]:
    """A data directory with 40 messages, a verified backup of the first 30, stopped cleanly (no -wal left)."""
    data_dir = tmp_path_factory.mktemp("corrupt") / "agent"
    svc = start_service(data_dir, config={"database": {"backup_interval_s": 0}})
    try:
        backed_up = set()
        for i in range(40):
            body = message(content=f"mensagem {i} " * 20)
            assert svc.post("/api/messages/capture", json=body).status_code == 201
            if i < 30:
                backed_up.add(body["message_id"])
            if i == 29:
                backup = svc.post("/api/system/backup").json()
                assert backup["status"] == "verified"
    finally:
        assert svc.stop() == 0
    return data_dir, backed_up, backup["name"]


def _copy_agent(source: Path, target: Path) -> Path:
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)
    return target


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _garbage_page(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    data[(root - 1) * page_size: root * page_size] = os.urandom(page_size)
    db.write_bytes(bytes(data))


def _not_a_database(db: Path) -> None:
    db.write_text("these are not the pages you are looking for\n" * 200)


def _emptied(db: Path) -> None:
    db.write_bytes(b"")


DAMAGE = {"truncated": _truncate, "garbage page": _garbage_page, "not a database": _not_a_database,
          "emptied": _emptied}


def _serve(data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "serve", "--port", "0", "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_serve_refuses_a_damaged_database_with_one_line_naming_the_newest_verified_backup(stopped_agent, tmp_path,
                                                                                           damage):
    source, _, backup_name = stopped_agent
    data_dir = _copy_agent(source, tmp_path / "agent")
    db = data_dir / "crm_agent.db"
    DAMAGE[damage](db)
    before = db.read_bytes()

    done = _serve(data_dir)

    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    line = lines[0]
    assert "is damaged" in line and backup_name in line
    assert f"agent.py backup restore --latest --data-dir {data_dir}" in line
    assert db.read_bytes() == before  # left as it was: never replaced by a new, empty database


def test_a_damaged_database_without_a_backup_says_there_is_none(stopped_agent, tmp_path):
    source, _, _ = stopped_agent
    data_dir = _copy_agent(source, tmp_path / "agent")
    subprocess.run(["rm", "-rf", str(data_dir / "backups")], check=True)
    _not_a_database(data_dir / "crm_agent.db")
    done = _serve(data_dir)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "no verified backup" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("damage", ["garbage page", "not a database"])
def test_restore_latest_brings_the_newest_verified_backup_back_over_a_damaged_database(stopped_agent, tmp_path,
                                                                                       damage):
    source, backed_up, backup_name = stopped_agent
    data_dir = _copy_agent(source, tmp_path / "agent")
    db = data_dir / "crm_agent.db"
    DAMAGE[damage](db)
    damaged = db.read_bytes()

    done = subprocess.run([*CLI, "backup", "restore", "--latest", "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)

    assert done.returncode == 0, done.stderr
    assert backup_name in done.stdout
    assert _ids(db) == backed_up
    kept = list(data_dir.glob("crm_agent.db.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged  # kept for recovery tools
    svc = start_service(data_dir)
    try:
        assert svc.get("/api/messages", params={"limit": 1}).json()["total"] == len(backed_up)
        assert svc.post("/api/messages/capture", json=message(content="de volta")).status_code == 201
    finally:
        assert svc.stop() == 0


def test_restore_latest_on_a_healthy_database_is_an_ordinary_restore(stopped_agent, tmp_path):
    source, backed_up, _ = stopped_agent
    data_dir = _copy_agent(source, tmp_path / "agent")
    done = subprocess.run([*CLI, "backup", "restore", "--latest", "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "previous database was saved" in done.stdout
    assert _ids(data_dir / "crm_agent.db") == backed_up
    assert not list(data_dir.glob("crm_agent.db.damaged-*"))


def test_restore_needs_a_file_or_latest(tmp_path):
    done = subprocess.run([*CLI, "backup", "restore", "--data-dir", str(tmp_path / "agent")], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "--latest" in done.stderr


# -- the start-up check after a clean stop (storage/clean_stop.py) ------------------------------------------------


def _start_checks(data_dir: Path) -> list[str]:
    """Which start-up check each start ran, from the service's log."""
    text = "".join(p.read_text(errors="replace") for p in sorted((data_dir / "logs").glob("agent.log*"), reverse=True))
    return re.findall(r"database start-up check: (\w+)", text)


def test_a_start_after_a_clean_stop_skips_the_full_read_and_a_crash_brings_it_back(tmp_path):
    """quick_check reads every page (100-135 s on a 10-million-message file): after a clean stop, the file untouched
    since, reading the schema is enough; the record is taken at the start, so a crash leaves none behind."""
    data_dir = tmp_path / "agent"
    record = data_dir / "clean-stop.json"
    svc = start_service(data_dir)
    assert svc.post("/api/messages/capture", json=message()).status_code == 201
    assert svc.stop() == 0
    assert record.exists()

    svc = start_service(data_dir)
    assert not record.exists()  # taken while the service runs: a crash now leaves no record
    assert svc.post("/api/messages/capture", json=message()).status_code == 201
    svc.stop(signal.SIGKILL)
    assert not record.exists()

    svc = start_service(data_dir)
    assert svc.get("/api/messages").json()["total"] == 2
    assert svc.stop() == 0
    assert _start_checks(data_dir) == ["quick_check", "schema", "quick_check"]


def test_damage_written_in_place_after_a_clean_stop_is_still_refused(stopped_agent, tmp_path):
    """The same file (same inode) written after the stop no longer carries the recorded stamp: the full check runs."""
    source, _, _ = stopped_agent
    data_dir = _copy_agent(source, tmp_path / "agent")
    svc = start_service(data_dir)
    assert svc.stop() == 0
    assert (data_dir / "clean-stop.json").exists()
    db = data_dir / "crm_agent.db"
    inode = db.stat().st_ino
    _garbage_page(db)
    assert db.stat().st_ino == inode
    done = _serve(data_dir)
    assert done.returncode == 1 and "is damaged" in done.stderr, done.stderr
