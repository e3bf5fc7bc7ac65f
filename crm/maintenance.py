"""Backups, restore and retention of the service's database, one at a time, with progress on the event bus.

The composition root (runtime/build.py) wires one Maintenance into Service. Slow file work runs through
`off_loop` (gevent's thread pool in the service, a plain call elsewhere); progress computed on that thread
reaches the bus through `call_on_loop` (gevent's thread-safe callback in the service).

Restore semantics (docs/decisions.md): captures are answered 503 with Retry-After while a restore runs, the
captures already accepted are written first, then the live database is copied to a `-pre-restore` safety
backup, then the restored content replaces it. So every capture acknowledged before the restore is in the
safety backup, none is acknowledged during it, and every one acknowledged afterwards is in the restored
database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from core import events
from core.clock import Clock, iso
from core.config import Config
from core.events import EventBus
from core.paths import DataDir
from storage import retention
from storage.backup_crypto import load_key, load_or_create_key
from storage.backups import (
    PRE_RESTORE_TAG,
    BackupError,
    BackupInfo,
    backup_database,
    database_page_size,
    prepare_restore,
    remove_candidate,
    restore_into,
)
from storage.database import Database
from storage.migrations import MIGRATIONS, migrate
from storage.users import read_revocations, reapply_revocations

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5
DRAIN_TIMEOUT_S = 30.0


class RestoreBusy(RuntimeError):
    pass


class Maintenance:
    def __init__(self, db: Database, data_dir: DataDir, config: Config, bus: EventBus, clock: Clock,
                 writes_idle: Callable[[], bool], off_loop: Callable[[Callable[[], Any]], Any] | None = None,
                 call_on_loop: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.db = db
        self.data_dir = data_dir
        self.config = config
        self.bus = bus
        self.clock = clock
        self.writes_idle = writes_idle  # True when no accepted capture is waiting to be written
        self.off_loop: Callable[[Callable[[], Any]], Any] = off_loop or (lambda work: work())
        self.call_on_loop: Callable[[Callable[[], None]], None] = call_on_loop or (lambda callback: callback())
        self.restoring = False  # captures answer 503 meanwhile
        self.running: dict[str, Any] | None = None  # the job in progress, with its phase and percent
        self.last: dict[str, Any] | None = None  # the last job's outcome
        self._one_at_a_time = threading.Lock()  # gevent's lock in the service

    @property
    def live_path(self) -> Path:
        path = self.db.sqlite_path
        if path is None:
            raise BackupError("backups are for the local SQLite database")
        return path

    # -- backup ---------------------------------------------------------------------------------------

    def backup(self) -> BackupInfo:
        live = self.live_path
        with self._one_at_a_time:
            self._begin("backup")
            try:
                key = self._encryption_key()
                info = self.off_loop(lambda: backup_database(live, self.data_dir.backups,
                                                             self.config["database.max_backups"],
                                                             self._progress("backup"), key))
            except BaseException as exc:
                self._finish("backup", error=exc)
                raise
            self._finish("backup", result=info.as_dict())
            self._publish(events.BACKUP_COMPLETED, info.as_dict())
            return info

    def _encryption_key(self) -> bytes | None:
        if not self.config["database.backup_encryption"]:
            return None
        return load_or_create_key(self.data_dir.backup_key_file)

    # -- restore --------------------------------------------------------------------------------------

    def restore(self, backup: Path) -> dict[str, Any]:
        """Replace the live database with a backup (see the module docstring for what is kept)."""
        live = self.live_path
        if not self._one_at_a_time.acquire(blocking=False):
            raise RestoreBusy("a backup or restore is already running; try again when it is done")
        started = time.monotonic()
        self._begin("restore", backup=backup.name)
        try:
            result = self._restore(backup, live)
        except BaseException as exc:
            self._finish("restore", error=exc)
            raise
        finally:
            self.restoring = False
            remove_candidate(self.data_dir.root)
            self._one_at_a_time.release()
        result["seconds"] = round(time.monotonic() - started, 3)
        self._finish("restore", result=result)
        log.info("restored %s (schema version %d) in %.1f s; the previous database is in %s", backup.name,
                 result["schema_version"], result["seconds"], result["safety_backup"]["name"])
        self._publish(events.RESTORE_COMPLETED, result)
        return result

    def _restore(self, backup: Path, live: Path) -> dict[str, Any]:
        key_path = self.data_dir.backup_key_file
        key = load_key(key_path)
        latest = max(number for number, _, _ in MIGRATIONS)  # by number: migrations may land out of order
        page_size = database_page_size(live)
        progress = self._progress("restore")
        candidate, version = self.off_loop(lambda: prepare_restore(backup, self.data_dir.root, key, key_path, latest,
                                                                   page_size, progress))
        self.restoring = True
        self._publish(events.RESTORE_STATE, {"state": "paused", "backup": backup.name})
        self._wait_for_accepted_writes()
        with self.db.writes_held():
            safety_key = self._encryption_key()
            safety = self.off_loop(lambda: backup_database(live, self.data_dir.backups, None, progress, safety_key,
                                                           tag=PRE_RESTORE_TAG))
            busy_s = self.config["database.busy_timeout_ms"] / 1000.0
            sequence_before = self.db.sequence
            revocations = read_revocations(self.db)
            self.off_loop(lambda: restore_into(candidate, live, busy_s, progress))
            self.db.generation += 1
            migrated = migrate(self.db, iso(self.clock.now()))
            self._keep_sequence_growing(sequence_before)
            reapply_revocations(self.db, revocations, iso(self.clock.now()))  # ended sessions stay ended
        return {"restored": backup.name, "schema_version": version, "migrated_to": migrated,
                "safety_backup": safety.as_dict()}

    def _keep_sequence_growing(self, at_least: int) -> None:
        """The restored change_sequence is the backup's (lower): raise it back, so a write after the restore
        gets a number above every number handed out before it and incremental sync does not skip it."""
        with self.db.transaction():
            self.db.execute("UPDATE change_sequence SET value = MAX(value, :v) WHERE id = 1", {"v": at_least})

    def _wait_for_accepted_writes(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while not self.writes_idle():
            if time.monotonic() > deadline:
                raise BackupError("captures already accepted were not written within "
                                  f"{DRAIN_TIMEOUT_S:.0f} s; restore abandoned, nothing was changed")
            time.sleep(0.005)  # under gevent this lets the group commit finish

    # -- retention ------------------------------------------------------------------------------------

    def run_retention(self) -> dict[str, Any]:
        """Clear old raw payloads and log rows, refresh statistics, VACUUM when worthwhile; logged."""
        live = self.live_path
        with self._one_at_a_time:
            self._begin("maintenance")
            try:
                report = self._retention(live)
            except BaseException as exc:
                self._finish("maintenance", error=exc)
                raise
            self._finish("maintenance", result=report)
        log.info("database maintenance: cleared %d raw payloads older than %s days, deleted %d log rows older "
                 "than %s days, deleted %d messages older than %s days (%.3f s); ANALYZE %.3f s; VACUUM %s "
                 "(%.3f s, %.1f%% free pages); total %.3f s",
                 report["raw_payloads_cleared"], report["raw_retention_days"] or "no limit", report["logs_deleted"],
                 report["log_retention_days"] or "no limit", report["messages_deleted"],
                 report["message_retention_days"] or "no limit", report["retention_s"], report["analyze_s"],
                 "done" if report["vacuum"]["vacuumed"] else "skipped", report["vacuum_s"],
                 report["vacuum"]["free_percent"], report["seconds"])
        return report

    def _retention(self, live: Path) -> dict[str, Any]:
        started = time.monotonic()
        now = self.clock.now()
        raw_days = self.config["database.raw_retention_days"]
        log_days = self.config["database.log_retention_days"]
        message_days = self.config["database.message_retention_days"]
        messages = (retention.delete_old_messages(self.db, iso(now - timedelta(days=message_days)), iso(now))
                    if message_days else 0)
        cleared = retention.clear_raw_payloads(self.db, iso(now - timedelta(days=raw_days))) if raw_days else 0
        deleted = retention.delete_old_logs(self.db, iso(now - timedelta(days=log_days))) if log_days else 0
        retention_s = time.monotonic() - started
        busy_s = self.config["database.busy_timeout_ms"] / 1000.0
        mark = time.monotonic()
        self.off_loop(lambda: retention.analyze(live, busy_s))
        analyze_s = time.monotonic() - mark
        mark = time.monotonic()
        with self.db.writes_held():  # VACUUM rewrites the file: the service's writes wait for it
            vacuum = self.off_loop(lambda: retention.vacuum_if_worthwhile(
                live, self.config["database.vacuum_min_free_percent"], busy_s))
        vacuum_s = time.monotonic() - mark
        return {"message_retention_days": message_days, "messages_deleted": messages,
                "raw_retention_days": raw_days, "raw_payloads_cleared": cleared, "log_retention_days": log_days,
                "logs_deleted": deleted, "retention_s": round(retention_s, 3), "analyze_s": round(analyze_s, 3),
                "vacuum": vacuum, "vacuum_s": round(vacuum_s, 3), "seconds": round(time.monotonic() - started, 3),
                "at": iso(now)}

    # -- state and progress ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "last": self.last, "restoring": self.restoring}

    def _begin(self, kind: str, **extra: Any) -> None:
        self.running = {"kind": kind, "phase": "starting", "percent": 0.0, "started_at": iso(self.clock.now()),
                        **extra}

    def _finish(self, kind: str, result: dict[str, Any] | None = None, error: BaseException | None = None) -> None:
        self.running = None
        self.last = {"kind": kind, "ok": error is None, "at": iso(self.clock.now())}
        if error is not None:
            self.last["error"] = str(error)
            self._publish(events.BACKUP_FAILED, {"kind": kind, "error": str(error)})
        else:
            self.last["result"] = result

    def _progress(self, kind: str) -> Callable[[str, int, int], None]:
        """A progress callback for the worker thread: updates `running`, publishes at most every 0.5 s."""
        last_sent = [0.0, ""]

        def report(phase: str, done: int, total: int) -> None:
            percent = round(100.0 * done / total, 1) if total else 100.0
            running = self.running
            if running is not None:
                running.update(phase=phase, percent=percent)
            now = time.monotonic()
            if phase == last_sent[1] and now - last_sent[0] < PROGRESS_EVERY_S and done < total:
                return
            last_sent[0], last_sent[1] = now, phase
            data = {"kind": kind, "phase": phase, "done": done, "total": total, "percent": percent}
            self.call_on_loop(lambda: self._publish(events.BACKUP_PROGRESS, data))

        return report

    def _publish(self, event_type: str, data: dict[str, Any]) -> None:
        self.bus.publish(event_type, data, iso(self.clock.now()))
