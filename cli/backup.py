"""`agent.py backup now | list | restore FILE | restore --latest`: verified backups of the local SQLite database,
and restore.

A restore goes through the running service when there is one, else runs here under the data directory's
lock. With a service on the data directory, the restore must go through it: only the service can pause its
captures, drain the accepted ones and keep its connections valid. The command then copies FILE into the
backups folder (the API restores only by name from there, never a path from a request), asks the service
with the local token (it counts as admin) and removes the copy afterwards. Without a service, the command
holds the service lock for the whole restore, so a service started meanwhile waits for it.

A damaged database (the service refuses to start on it, runtime/build.py) cannot be restored into: it is moved
aside (kept as crm_agent.db.damaged-<stamp>) and the checked backup takes its place (restore_over_damaged).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cli.context import Context
from core.config import Config
from core.discovery import read_service_url
from core.oslock import FileLock
from core.paths import DataDir

SQLITE_PREFIX = "sqlite:///"
SERVICE_ANSWER_WAIT_S = 15.0
RESTORE_TIMEOUT_S = 3600.0
LOCK_WAIT_S = 5.0


def run(ctx: Context, args: argparse.Namespace) -> int:
    ctx.data_dir.ensure()
    config = ctx.config  # read first by every backup command: a bad config.json stops here
    if args.backup_command == "list":
        return list_backups(ctx)
    if args.backup_command in ("export-key", "import-key"):
        from cli.offsite import export_key, import_key

        return export_key(ctx) if args.backup_command == "export-key" else import_key(ctx, args.force)
    url = ctx.database_url
    if not url.startswith(SQLITE_PREFIX):
        print(ctx.tr._("error: backups are for the local SQLite database"), file=ctx.stderr)
        return 1
    if args.backup_command == "restore":
        chosen = [bool(args.file), args.latest, args.from_hub]
        if sum(chosen) != 1:
            print(ctx.tr._("error: name one backup: a FILE, --latest or --from-hub"), file=ctx.stderr)
            return 2
        if args.from_hub:
            from cli.offsite import download_from_hub

            downloaded = download_from_hub(ctx)
            return 1 if downloaded is None else restore(ctx, downloaded)
        return restore_latest(ctx) if args.latest else restore(ctx, Path(args.file))
    return backup_now(ctx, config, Path(url[len(SQLITE_PREFIX):]))


def list_backups(ctx: Context) -> int:
    from storage.backups import list_backups

    for info in list_backups(ctx.data_dir.backups):
        flags = "".join((" encrypted" if info.encrypted else "", " pre-restore" if info.pre_restore else ""))
        print(f"{info.created_at}\t{info.size_bytes}\t{info.status}{flags}\t{info.path}", file=ctx.stdout)
    return 0


def backup_now(ctx: Context, config: Config, source: Path) -> int:
    """A verified backup of the database file (safe while the service runs: SQLite's online backup API)."""
    from storage.backup_crypto import BackupCryptoError, load_or_create_key
    from storage.backups import BackupError, backup_database

    if not source.exists():
        print(ctx.tr._("error: no database at {path}").format(path=source), file=ctx.stderr)
        return 1
    data_dir = ctx.data_dir
    try:
        key = load_or_create_key(data_dir.backup_key_file) if config["database.backup_encryption"] else None
        info = backup_database(source, data_dir.backups, config["database.max_backups"], key=key)
    except (BackupError, BackupCryptoError, OSError) as exc:
        print(ctx.tr._("error: {error}").format(error=exc), file=ctx.stderr)
        return 1
    tr = ctx.tr
    size = tr.n_("{n} byte", "{n} bytes", info.size_bytes)
    written = (tr._("backup written and verified: {path} ({size}, encrypted)") if key
               else tr._("backup written and verified: {path} ({size})"))
    print(written.format(path=info.path, size=size), file=ctx.stdout)
    return 0


# -- restore ----------------------------------------------------------------------------------------------


def restore(ctx: Context, file: Path) -> int:
    source = file.expanduser().resolve()
    if not source.is_file():
        print(ctx.tr._("error: no backup file at {path}").format(path=source), file=ctx.stderr)
        return 1
    lock = FileLock(ctx.data_dir.service_lock_file)
    # A service that has not said where it listens may be one refusing a damaged database (the tray restarts
    # it every few seconds, and it holds the lock for a moment each time): wait for the lock briefly.
    if lock.try_acquire() or (read_service_url(ctx.data_dir) is None and lock.acquire(LOCK_WAIT_S)):
        try:
            if damaged_database_problem(ctx) is not None:
                return restore_over_damaged(ctx, source)
            return restore_directly(ctx, source)
        finally:
            lock.release()
    return restore_through_service(ctx, source)


def restore_latest(ctx: Context) -> int:
    """Restore the newest verified backup (the one a refused start names)."""
    from storage.backups import newest_verified_backup

    newest = newest_verified_backup(ctx.data_dir.backups)
    if newest is None:
        print(ctx.tr._("error: no verified backup in {folder}").format(folder=ctx.data_dir.backups), file=ctx.stderr)
        return 1
    print(ctx.tr._("restoring {name} ({created_at})").format(name=newest.name, created_at=newest.created_at),
          file=ctx.stdout)
    return restore(ctx, newest.path)


def damaged_database_problem(ctx: Context) -> str | None:
    from storage.database import sqlite_file_problem

    url = ctx.database_url
    return sqlite_file_problem(Path(url[len(SQLITE_PREFIX):])) if url.startswith(SQLITE_PREFIX) else None


def restore_over_damaged(ctx: Context, source: Path) -> int:
    """The live file is damaged (no connection can copy into it): check the backup, move the damaged file aside,
    put the backup in its place. The caller holds the service lock. Access tokens end (a new signing key):
    the backup predates later logouts, which cannot be read from the damaged file."""
    from core.secrets_store import replace_secret
    from storage.backup_crypto import BackupCryptoError, load_key
    from storage.backups import BackupError, move_damaged_aside, prepare_restore
    from storage.migrations import MIGRATIONS

    data_dir = ctx.data_dir
    live = Path(ctx.database_url[len(SQLITE_PREFIX):])
    try:
        candidate, version = prepare_restore(source, data_dir.root, load_key(data_dir.backup_key_file),
                                             data_dir.backup_key_file, MIGRATIONS[-1][0], page_size=None)
    except (BackupCryptoError, BackupError, OSError) as exc:
        print(ctx.tr._("error: restore refused, the damaged database is unchanged: {error}").format(error=exc),
              file=ctx.stderr)
        return 1
    kept = move_damaged_aside(live)
    os.replace(candidate, live)
    replace_secret(data_dir.jwt_secret_file, 32)
    print(ctx.tr._("restored {name} (schema version {version}) in place of the damaged database, kept as {kept}; "
                   "sign in again").format(name=source.name, version=version, kept=kept), file=ctx.stdout)
    return 0


def restore_directly(ctx: Context, source: Path) -> int:
    """No service runs on the data directory (the caller holds its lock): restore here, progress on stderr."""
    from core.clock import Clock
    from core.events import BACKUP_PROGRESS, EventBus
    from crm.maintenance import Maintenance
    from storage.backup_crypto import BackupCryptoError
    from storage.backups import BackupError

    bus = EventBus(16)
    bus.subscribe(lambda event: print_progress(ctx, event["data"]) if event["type"] == BACKUP_PROGRESS else None)
    with closing(ctx.open_database()) as db:
        try:
            maintenance = Maintenance(db, ctx.data_dir, ctx.config, bus, Clock(), writes_idle=lambda: True)
            result = maintenance.restore(source)
        except (BackupCryptoError, BackupError) as exc:
            print("\n" + ctx.tr._("error: restore refused, the database is unchanged: {error}").format(error=exc),
                  file=ctx.stderr)
            return 1
        except OSError as exc:
            print("\n" + ctx.tr._("error: restore failed: {error}").format(error=exc), file=ctx.stderr)
            return 1
    print_result(ctx, result)
    return 0


def restore_through_service(ctx: Context, source: Path) -> int:
    from storage.backups import find_backup

    data_dir = ctx.data_dir
    base = service_url(data_dir)
    if base is None:
        print(ctx.tr._("error: a service holds this data directory but does not say where it listens ({file}); "
                       "stop it or try again").format(file=data_dir.service_info_file), file=ctx.stderr)
        return 1
    imported = None
    if source.parent == data_dir.backups.resolve():
        name = source.name
    else:
        imported = import_into_backups(source, data_dir.backups)
        name = imported.name
    try:
        find_backup(data_dir.backups, name)  # the same name check the service makes, with a clearer message
        status, body = post(base, "/api/system/restore", {"name": name}, data_dir)
    except Exception as exc:  # noqa: BLE001 - report any failure as one line
        print(ctx.tr._("error: restore through the service at {url} failed: {error}").format(url=base, error=exc),
              file=ctx.stderr)
        return 1
    finally:
        if imported is not None:
            imported.unlink(missing_ok=True)
    if status != 200:
        message = (body or {}).get("error", {}).get("message", f"HTTP {status}")
        print(ctx.tr._("error: the service refused the restore: {error}").format(error=message), file=ctx.stderr)
        return 1
    print_result(ctx, body)
    return 0


def service_url(data_dir: DataDir) -> str | None:
    deadline = time.monotonic() + SERVICE_ANSWER_WAIT_S
    while True:
        url = read_service_url(data_dir)
        if url is not None:
            return url
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)  # the service is starting and has not written service.json yet


def import_into_backups(source: Path, backups: Path) -> Path:
    backups.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    suffix = ".db.enc" if source.name.endswith(".enc") else ".db"
    target = backups / f"import-{stamp}{suffix}"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return target


def post(base: str, path: str, body: dict[str, Any], data_dir: DataDir) -> tuple[int, Any]:
    from desktop.service_client import ServiceClient

    client = ServiceClient(lambda: base, data_dir.local_token_file, timeout=RESTORE_TIMEOUT_S)
    reply = client.request("POST", path, body)
    return reply.status, reply.body


def print_progress(ctx: Context, data: dict[str, Any]) -> None:
    print(f"\r{data['phase']}: {data['percent']:5.1f}%", end="", file=ctx.stderr, flush=True)


def print_result(ctx: Context, result: dict[str, Any]) -> None:
    tr = ctx.tr
    print("\n" + tr._("restored {name} (schema version {version}) in {duration}; the previous database was saved as "
                      "{path}").format(name=result["restored"], version=result["schema_version"],
                                       duration=tr.duration(timedelta(seconds=float(result["seconds"]))),
                                       path=result["safety_backup"]["path"]), file=ctx.stdout)
