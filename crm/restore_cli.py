"""`agent.py backup restore FILE`: through the running service when there is one, else directly under a lock.

With a service on the data directory, the restore must go through it: only the service can pause its
captures, drain the accepted ones and keep its connections valid. The CLI then copies FILE into the
backups folder (the API restores only by name from there, never a path from a request), asks the service
with the local token (it counts as admin) and removes the copy afterwards. Without a service, the CLI
holds the service lock for the whole restore, so a service started meanwhile waits for it.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.config import Config
from core.discovery import read_service_url
from core.oslock import FileLock
from core.paths import DataDir

SERVICE_ANSWER_WAIT_S = 15.0
RESTORE_TIMEOUT_S = 3600.0


def restore_command(file: Path, data_dir: DataDir, config: Config) -> int:
    source = file.expanduser().resolve()
    if not source.is_file():
        print(f"error: no backup file at {source}", file=sys.stderr)
        return 1
    lock = FileLock(data_dir.service_lock_file)
    if lock.try_acquire():
        try:
            return _restore_directly(source, data_dir, config)
        finally:
            lock.release()
    return _restore_through_service(source, data_dir)


def _restore_directly(source: Path, data_dir: DataDir, config: Config) -> int:
    from core.clock import Clock
    from core.events import BACKUP_PROGRESS, EventBus
    from crm.maintenance import Maintenance
    from storage.backup_crypto import BackupCryptoError
    from storage.backups import BackupError
    from storage.database import Database, database_url

    bus = EventBus(16)
    bus.subscribe(lambda event: _print_progress(event["data"]) if event["type"] == BACKUP_PROGRESS else None)
    db = Database(database_url(config["database.path"], data_dir.database),
                  busy_timeout_ms=config["database.busy_timeout_ms"])
    try:
        maintenance = Maintenance(db, data_dir, config, bus, Clock(), writes_idle=lambda: True)
        result = maintenance.restore(source)
    except (BackupCryptoError, BackupError) as exc:
        print(f"\nerror: restore refused, the database is unchanged: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"\nerror: restore failed: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    _print_result(result)
    return 0


def _restore_through_service(source: Path, data_dir: DataDir) -> int:
    from storage.backups import find_backup

    base = _service_url(data_dir)
    if base is None:
        print("error: a service holds this data directory but does not say where it listens "
              f"({data_dir.service_info_file}); stop it or try again", file=sys.stderr)
        return 1
    imported = None
    if source.parent == data_dir.backups.resolve():
        name = source.name
    else:
        imported = _import_into_backups(source, data_dir.backups)
        name = imported.name
    try:
        find_backup(data_dir.backups, name)  # the same name check the service makes, with a clearer message
        status, body = _post(base, "/api/system/restore", {"name": name}, data_dir)
    except Exception as exc:  # noqa: BLE001 - report any failure as one line
        print(f"error: restore through the service at {base} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if imported is not None:
            imported.unlink(missing_ok=True)
    if status != 200:
        message = (body or {}).get("error", {}).get("message", f"HTTP {status}")
        print(f"error: the service refused the restore: {message}", file=sys.stderr)
        return 1
    _print_result(body)
    return 0


def _service_url(data_dir: DataDir) -> str | None:
    deadline = time.monotonic() + SERVICE_ANSWER_WAIT_S
    while True:
        url = read_service_url(data_dir)
        if url is not None:
            return url
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)  # the service is starting and has not written service.json yet


def _import_into_backups(source: Path, backups: Path) -> Path:
    backups.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = ".db.enc" if source.name.endswith(".enc") else ".db"
    target = backups / f"import-{stamp}{suffix}"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return target


def _post(base: str, path: str, body: dict[str, Any], data_dir: DataDir) -> tuple[int, Any]:
    from core.service_client import ServiceClient

    client = ServiceClient(lambda: base, data_dir.local_token_file, timeout=RESTORE_TIMEOUT_S)
    reply = client.request("POST", path, body)
    return reply.status, reply.body


def _print_progress(data: dict[str, Any]) -> None:
    print(f"\r{data['phase']}: {data['percent']:5.1f}%", end="", file=sys.stderr, flush=True)


def _print_result(result: dict[str, Any]) -> None:
    print(f"\nrestored {result['restored']} (schema version {result['schema_version']}) in {result['seconds']} s; "
          f"the previous database was saved as {result['safety_backup']['path']}")
