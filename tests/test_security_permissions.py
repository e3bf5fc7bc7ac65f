"""Issue 13: everything the service writes in its data directory is the user's alone (0600 files, 0700
directories), as the README says: logs and their rotations, the database with -wal/-shm, backups, markers."""

from __future__ import annotations

import os
import stat

from tests.helpers import start_service


def loose(root) -> list[str]:
    """Files and directories readable by the group or others (symlinks aside)."""
    out = []
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                out.append(f"{os.path.relpath(path, root)} {stat.filemode(mode)}")
    return out


def test_files_the_service_writes_are_private_after_a_real_run(tmp_path):
    data_dir = tmp_path / "agent"
    (data_dir / "logs").mkdir(parents=True)
    old = data_dir / "logs" / "agent.log.3"  # left 0644 by an earlier version
    old.write_text("old\n")
    os.chmod(old, 0o644)
    old_umask = os.umask(0o022)  # what a desktop session usually has
    try:
        svc = start_service(data_dir, config={"logging": {"max_bytes": 10_000, "backup_count": 2}})
    finally:
        os.umask(old_umask)
    try:
        assert svc.post("/api/system/backup").status_code in (200, 201, 202)
        for _ in range(300):  # the request log rotates: the handler's new files too
            svc.get("/api/health", token=None)
        assert (data_dir / "crm_agent.db-wal").exists()
        assert loose(data_dir) == []
    finally:
        svc.stop()
    assert (data_dir / "logs" / "agent.log.1").exists() and list((data_dir / "backups").iterdir())
    assert loose(data_dir) == []
    assert stat.S_IMODE(os.stat(data_dir / "crm_agent.db").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir / "logs" / "agent.log").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o600
