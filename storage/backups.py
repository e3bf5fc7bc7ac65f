"""Verified SQLite backups with SQLite's online backup API (never a file copy of a live database), and restore.

A backup is written to a temporary name, checked with PRAGMA integrity_check, optionally encrypted
(storage/backup_crypto.py), then renamed into place, so a crash or kill mid-backup leaves only a stray
temporary file (removed by the next run) and the earlier backups untouched. The oldest backups beyond the
configured count are removed.

Restore happens in two steps. prepare_restore() decrypts or copies the chosen backup to a candidate file
next to the database and checks it (integrity_check, a schema version this program can migrate) while the
live database is untouched. restore_into() then writes the candidate into the live database with the same
online backup API, which replaces its content in one write transaction: a kill midway leaves the old
content (the transaction never commits), and every open connection (the service's, its WAL checkpointer,
another process's) keeps working and sees the restored content after the commit, so no file is swapped
under anyone and no stale -wal/-shm file can be applied to the wrong database.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from storage.backup_crypto import decrypt_file, encrypt_file, is_encrypted, verify_file
from storage.database import is_disk_full

log = logging.getLogger(__name__)

PREFIX = "crm_agent-"
SUFFIX = ".db"
ENCRYPTED_SUFFIX = ".db.enc"
PRE_RESTORE_TAG = "-pre-restore"
PAGES_PER_STEP = 1024  # ~4 MiB a step: progress is reported and writers are not held up for long
CANDIDATE_NAME = "restore-candidate.db"
_STAMP = re.compile(r"(\d{8}T\d{6}\d{6}Z)")
# What a backup name sent over the API may look like: a plain file name, never a path.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")

# (phase, done, total): phase is copy | verify | encrypt | decrypt | restore; units are pages or bytes.
Progress = Callable[[str, int, int], None]


class BackupError(RuntimeError):
    pass


class BackupDiskFull(BackupError):
    """No room for the backup: nothing of it is left behind, and the earlier backups are untouched."""


@dataclass(frozen=True)
class BackupInfo:
    name: str
    path: Path
    size_bytes: int
    created_at: str
    status: str  # "verified" (checked when written) or "unverified" (a file found without our marker)
    encrypted: bool
    pre_restore: bool  # the safety copy taken just before a restore

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "size_bytes": self.size_bytes,
                "created_at": self.created_at, "status": self.status, "encrypted": self.encrypted,
                "pre_restore": self.pre_restore}


def backup_database(source: Path, backups_dir: Path, keep: int | None, progress: Progress | None = None,
                    key: bytes | None = None, tag: str = "") -> BackupInfo:
    """Copy the live database with the online backup API, verify it, encrypt it when a key is given, and
    keep the newest `keep` backups (None: remove nothing, as for the safety copy before a restore)."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    _remove_stray_temporaries(backups_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    final = backups_dir / f"{PREFIX}{stamp}{tag}{ENCRYPTED_SUFFIX if key else SUFFIX}"
    partial = backups_dir / f"{PREFIX}{stamp}{tag}{SUFFIX}.partial"
    sealed = final.with_name(final.name + ".partial")
    started = time.monotonic()
    try:
        _online_copy(source, partial, progress)
        if key is not None:
            encrypt_file(partial, sealed, key, _phase(progress, "encrypt"))
            partial.unlink()
            # Read it back: the file on disk, not only the plaintext checked above, must restore.
            verify_file(sealed, key, _phase(progress, "verify"))
            partial = sealed
        os.chmod(partial, 0o600)
        os.replace(partial, final)
        _write_marker(final)  # last: a backup without its marker is never counted as verified
    except BaseException as exc:
        for leftover in (partial, sealed, final, _marker(final)):
            leftover.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise BackupDiskFull(f"not enough disk space for a backup in {backups_dir} ({exc}); the earlier "
                                 "backups are kept") from exc
        raise
    removed = prune(backups_dir, keep) if keep is not None else []
    info = _info(final)
    log.info("backup %s written and verified%s: %d bytes in %.1f s%s", final.name, " (encrypted)" if key else "",
             info.size_bytes, time.monotonic() - started, f"; removed {len(removed)} old" if removed else "")
    return info


def _online_copy(source: Path, target: Path, progress: Progress | None) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        report = _phase(progress, "copy")
        src.backup(dst, pages=PAGES_PER_STEP,
                   progress=(lambda status, remaining, total: report(total - remaining, total)) if report else None)
        if progress:
            progress("verify", 0, 1)
        result = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"backup failed its integrity check: {result}")
    finally:
        dst.close()
        src.close()


def list_backups(backups_dir: Path) -> list[BackupInfo]:
    """Newest first."""
    if not backups_dir.exists():
        return []
    files = [p for p in backups_dir.glob(f"{PREFIX}*") if p.name.endswith((SUFFIX, ENCRYPTED_SUFFIX))]
    return [_info(path) for path in sorted(files, key=lambda p: p.name, reverse=True)]


def newest_verified_backup(backups_dir: Path) -> BackupInfo | None:
    """The backup to restore when the database is lost: the newest verified one. A -pre-restore safety copy
    holds content the user chose to replace, so it counts only when there is no other."""
    verified = [info for info in list_backups(backups_dir) if info.status == "verified"]
    regular = [info for info in verified if not info.pre_restore]
    return (regular or verified or [None])[0]


def move_damaged_aside(live: Path) -> Path:
    """Rename a damaged database (and its -wal and -shm) to <name>.damaged-<UTC stamp>, kept for recovery
    tools; returns the new name of the main file. Only with no connection open on it (the service lock)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = live.with_name(f"{live.name}.damaged-{stamp}")
    for suffix in ("-wal", "-shm", "-journal"):
        companion = live.with_name(live.name + suffix)
        if companion.exists():
            os.replace(companion, kept.with_name(kept.name + suffix))
    if live.exists():
        os.replace(live, kept)
    return kept


def prune(backups_dir: Path, keep: int) -> list[Path]:
    removed = []
    for info in list_backups(backups_dir)[keep:]:
        info.path.unlink(missing_ok=True)
        _marker(info.path).unlink(missing_ok=True)
        offsite_marker(info.path).unlink(missing_ok=True)
        removed.append(info.path)
    return removed


def find_backup(backups_dir: Path, name: str) -> Path:
    """The backup called `name` directly inside backups_dir (names only: never a path from a request)."""
    if not SAFE_NAME.fullmatch(name) or name.endswith(".partial"):
        raise BackupError(f"not a backup name: {name!r}")
    path = backups_dir / name
    if not path.is_file() or path.resolve().parent != backups_dir.resolve():
        raise FileNotFoundError(f"no backup named {name} in {backups_dir}")
    return path


# -- restore ----------------------------------------------------------------------------------------


def prepare_restore(backup: Path, work_dir: Path, key: bytes | None, key_path: Path, latest_schema: int,
                    page_size: int | None, progress: Progress | None = None) -> tuple[Path, int]:
    """Decrypt or copy the backup to a candidate file in work_dir and check it; returns (candidate, version).

    Raises BackupCryptoError (key or tampering) or BackupError (not a usable database); the live database
    is not touched either way.
    """
    candidate = work_dir / CANDIDATE_NAME
    _remove_candidate(candidate)
    try:
        if is_encrypted(backup):
            decrypt_file(backup, candidate, key, key_path, _phase(progress, "decrypt"))
        else:
            _copy_file(backup, candidate)
        version = check_candidate(candidate, latest_schema, progress)
        if page_size and _page_size(candidate) != page_size:
            _convert_page_size(candidate, page_size)  # the backup API into a WAL database needs equal sizes
        return candidate, version
    except BaseException:
        _remove_candidate(candidate)
        raise


def check_candidate(path: Path, latest_schema: int, progress: Progress | None = None) -> int:
    """integrity_check and the schema version (1..latest_schema; older ones are migrated after restore)."""
    if progress:
        progress("verify", 0, 1)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup cannot be opened as a database: {exc}") from None
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"the backup failed its integrity check: {result}")
        version = int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the backup is not a CRM Agent database: {exc}") from None
    finally:
        conn.close()
    if version < 1:
        raise BackupError("the backup has no recorded schema version; it is not a CRM Agent database")
    if version > latest_schema:
        raise BackupError(f"the backup has schema version {version}, newer than this program ({latest_schema}); "
                          "update the agent before restoring it")
    return version


def restore_into(candidate: Path, live: Path, busy_timeout_s: float, progress: Progress | None = None) -> None:
    """Write the checked candidate into the live database in one transaction (see the module docstring)."""
    src = sqlite3.connect(f"file:{candidate}?mode=ro", uri=True)
    dst = sqlite3.connect(live, timeout=busy_timeout_s)
    try:
        report = _phase(progress, "restore")
        src.backup(dst, pages=PAGES_PER_STEP,
                   progress=(lambda status, remaining, total: report(total - remaining, total)) if report else None)
        try:
            # The whole database went through the WAL: hand its pages to the main file and shrink the WAL.
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # busy: the service's checkpointer finishes it
    finally:
        dst.close()
        src.close()


def remove_candidate(work_dir: Path) -> None:
    _remove_candidate(work_dir / CANDIDATE_NAME)


def database_page_size(path: Path) -> int | None:
    if not path.exists():
        return None
    return _page_size(path)


# -- helpers ----------------------------------------------------------------------------------------


def _phase(progress: Progress | None, phase: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(phase, done, total)


def _copy_file(source: Path, target: Path) -> None:
    """A plain copy of a backup file (a closed database, not the live one), created 0600."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)


def _page_size(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def _convert_page_size(path: Path, page_size: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(f"PRAGMA page_size={int(page_size)}")
        conn.execute("VACUUM")
    finally:
        conn.close()


def _remove_candidate(candidate: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        candidate.with_name(candidate.name + suffix).unlink(missing_ok=True)


def _info(path: Path) -> BackupInfo:
    found = _STAMP.search(path.name[len(PREFIX):])
    try:
        if found is None:
            raise ValueError
        created = datetime.strptime(found.group(1), "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
        created_at = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        created_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = "verified" if _has_marker(path) else "unverified"
    return BackupInfo(path.name, path, path.stat().st_size, created_at, status,
                      path.name.endswith(ENCRYPTED_SUFFIX), PRE_RESTORE_TAG in path.name)


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def offsite_marker(path: Path) -> Path:
    """Beside a backup once it is on the team hub (crm/offsite.py); a file, so a restore does not forget it."""
    return path.with_name(path.name + ".offsite")


MARKER_TEXT = "integrity_check ok\n"


def _has_marker(path: Path) -> bool:
    """The marker with its full text: an empty or cut marker (a disk that filled while writing it) is none."""
    try:
        return _marker(path).read_text(encoding="utf-8") == MARKER_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def _write_marker(path: Path) -> None:
    """Written under a temporary name and renamed, so the marker is whole or absent."""
    marker = _marker(path)
    partial = marker.with_name(marker.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8") as out:
            out.write(MARKER_TEXT)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, marker)
    finally:
        partial.unlink(missing_ok=True)


def _remove_stray_temporaries(backups_dir: Path) -> None:
    for stray in backups_dir.glob(f"{PREFIX}*.partial"):
        log.warning("removing unfinished backup %s (interrupted earlier)", stray.name)
        stray.unlink(missing_ok=True)
