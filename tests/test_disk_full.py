"""A full disk under the data directory: captures answered 507 with Retry-After, nothing acknowledged lost or
damaged, health and the alert say why, backups fail cleanly, and all resumes by itself once space is freed.

The data directory lives on a small tmpfs the test mounts (root only: CI runs as root); elsewhere it is skipped.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.backups import MARKER_TEXT, backup_database, list_backups
from tests.helpers import message, start_service

DISK_SIZE = "24m"
NO_SCHEDULED_JOBS = {"database": {"backup_interval_s": 0, "maintenance_interval_s": 0}}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_SIZE mounted on a fresh directory, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the filesystem refuses (ENOSPC)."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        for size in (4096, 512, 1):  # the last pages, so nothing is left at all
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:
                pass
    return filler


def stored_ids(database: Path) -> set[str]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in conn.execute("SELECT message_id FROM messages")}


def test_a_full_disk_refuses_captures_with_507_keeps_every_acknowledged_one_and_resumes_by_itself(small_disk):
    data_dir = small_disk / "agent"
    svc = start_service(data_dir, config=NO_SCHEDULED_JOBS)
    try:
        acknowledged = []
        for i in range(5):
            body = message(content=f"antes {i}")
            assert svc.post("/api/messages/capture", json=body).status_code == 201
            acknowledged.append(body["message_id"])

        filler = fill(small_disk)
        # A capture may still fit in WAL space already allocated; within a few the disk is met.
        refused = None
        for i in range(300):
            body = message(content=f"durante {i} " + "x" * 3000)
            reply = svc.post("/api/messages/capture", json=body)
            if reply.status_code == 201:
                acknowledged.append(body["message_id"])
                continue
            refused = reply
            break
        assert refused is not None, "the disk never filled up"
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "disk_full"
        assert int(refused.headers["Retry-After"]) > 0

        again = svc.post("/api/messages/capture", json=message(content="ainda cheio"))
        assert again.status_code == 507 and again.headers["Retry-After"]
        batch = svc.post("/api/messages/capture/batch", json={"messages": [message(content="lote")]})
        assert batch.status_code == 200 and batch.headers["Retry-After"]
        assert batch.json()["results"][0]["status"] == 507
        assert batch.json()["results"][0]["error"]["code"] == "disk_full"

        health = svc.get("/api/health").json()
        assert health["status"] == "degraded"
        assert health["storage"]["state"] == "full" and health["storage"]["degraded"]
        assert "disk_full" in health["alerts"]["active"]
        assert stored_ids(data_dir / "crm_agent.db") >= set(acknowledged)

        backup = svc.post("/api/system/backup")
        assert backup.status_code == 507, backup.text
        assert backup.json()["error"]["code"] == "disk_full"
        assert [b for b in list_backups(data_dir / "backups") if b.status == "verified"] == []
        assert not list((data_dir / "backups").glob("*.partial"))

        filler.unlink()  # space returns: no restart, the next capture is stored
        body = message(content="depois")
        assert svc.post("/api/messages/capture", json=body).status_code == 201
        acknowledged.append(body["message_id"])
        health = svc.get("/api/health").json()
        assert health["storage"]["state"] == "ok" and "disk_full" not in health["alerts"]["active"]
        assert svc.post("/api/system/backup").json()["status"] == "verified"
        stored = stored_ids(data_dir / "crm_agent.db")
        assert set(acknowledged) <= stored
        assert len(stored) == len(acknowledged)  # nothing refused was stored behind the 507
    finally:
        svc.stop()


def test_a_backup_whose_marker_was_cut_short_is_not_counted_as_verified(tmp_path):
    source = tmp_path / "live.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (x)")
    info = backup_database(source, tmp_path / "backups", keep=5)
    assert info.status == "verified"
    marker = info.path.with_name(info.path.name + ".verified")
    assert marker.read_text() == MARKER_TEXT
    marker.write_text("")  # what a disk filling up while the marker was written leaves
    assert list_backups(tmp_path / "backups")[0].status == "unverified"
