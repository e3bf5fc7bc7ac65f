"""Verified SQLite backups with SQLite's online backup API (never a file copy of a live database).

A backup is written to a temporary name, checked with PRAGMA integrity_check, then renamed into place,
so a crash or kill mid-backup leaves only a stray temporary file (removed by the next run) and the
earlier backups untouched. The oldest backups beyond the configured count are removed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "crm_agent-"
SUFFIX = ".db"
PAGES_PER_STEP = 1024  # ~4 MiB a step: progress is reported and writers are not held up for long


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupInfo:
    name: str
    path: Path
    size_bytes: int
    created_at: str
    status: str  # "verified" (checked when written) or "unverified" (a file found without our marker)

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "size_bytes": self.size_bytes,
                "created_at": self.created_at, "status": self.status}


def backup_database(source: Path, backups_dir: Path, keep: int,
                    progress: Callable[[int, int], None] | None = None) -> BackupInfo:
    """Copy the live database with the online backup API, verify it and keep the newest `keep` backups."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    _remove_stray_temporaries(backups_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    final = backups_dir / f"{PREFIX}{stamp}{SUFFIX}"
    partial = final.with_name(final.name + ".partial")
    started = time.monotonic()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=PAGES_PER_STEP,
                   progress=(lambda status, remaining, total: progress(total - remaining, total)) if progress else None)
        result = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"backup failed its integrity check: {result}")
    except BaseException:
        dst.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    dst.close()
    os.chmod(partial, 0o600)
    os.replace(partial, final)
    _write_marker(final)
    removed = prune(backups_dir, keep)
    info = _info(final)
    log.info("backup %s written and verified: %d bytes in %.1f s%s", final.name, info.size_bytes,
             time.monotonic() - started, f"; removed {len(removed)} old" if removed else "")
    return info


def list_backups(backups_dir: Path) -> list[BackupInfo]:
    """Newest first."""
    if not backups_dir.exists():
        return []
    files = sorted(backups_dir.glob(f"{PREFIX}*{SUFFIX}"), reverse=True)
    return [_info(path) for path in files]


def prune(backups_dir: Path, keep: int) -> list[Path]:
    removed = []
    for info in list_backups(backups_dir)[keep:]:
        info.path.unlink(missing_ok=True)
        _marker(info.path).unlink(missing_ok=True)
        removed.append(info.path)
    return removed


def _info(path: Path) -> BackupInfo:
    stamp = path.name[len(PREFIX):-len(SUFFIX)]
    try:
        created = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
        created_at = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        created_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = "verified" if _marker(path).exists() else "unverified"
    return BackupInfo(path.name, path, path.stat().st_size, created_at, status)


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _write_marker(path: Path) -> None:
    _marker(path).write_text("integrity_check ok\n", encoding="utf-8")


def _remove_stray_temporaries(backups_dir: Path) -> None:
    for stray in backups_dir.glob(f"{PREFIX}*{SUFFIX}.partial"):
        log.warning("removing unfinished backup %s (interrupted earlier)", stray.name)
        stray.unlink(missing_ok=True)
