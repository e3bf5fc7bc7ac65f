"""Agent controls for local clients: pause/resume capture, backups, restore, maintenance, recent warnings."""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import Field

from api.errors import ApiError
from api.plugins import Reply, Request
from api.roles import ADMINS
from api.routing import ApiRoute
from api.schemas import Flag, Strict
from crm.maintenance import RestoreBusy
from crm.service import Service
from storage.backup_crypto import BackupCryptoError
from storage.backups import BackupDiskFull, BackupError, find_backup, list_backups
from storage.system_logs import recent_logs


def run_backup(service: Service) -> dict[str, Any]:
    """One verified backup of the live database (the slow part runs on the maintenance's worker thread)."""
    if service.db.sqlite_path is None:
        raise ApiError(409, "not_sqlite", "backups are for the local SQLite database")
    try:
        return service.maintenance.backup().as_dict()
    except BackupDiskFull as exc:
        raise ApiError(507, "disk_full", f"backup failed: {exc}") from None
    except (BackupError, BackupCryptoError, OSError, sqlite3.Error) as exc:
        raise ApiError(500, "backup_failed", f"backup failed: {exc}") from None


def run_restore(service: Service, name: str) -> dict[str, Any]:
    if service.db.sqlite_path is None:
        raise ApiError(409, "not_sqlite", "restore is for the local SQLite database")
    try:
        path = find_backup(service.data_dir.backups, name)
    except BackupError as exc:
        raise ApiError(422, "validation_error", str(exc), field="name") from None
    except FileNotFoundError:
        raise ApiError(404, "not_found", f"no backup named {name} in the backups folder") from None
    try:
        result = service.maintenance.restore(path)
    except RestoreBusy as exc:
        raise ApiError(409, "busy", str(exc), headers={"Retry-After": "10"}) from None
    except BackupCryptoError as exc:
        raise ApiError(422, "backup_key", f"restore refused, the live database is unchanged: {exc}") from None
    except BackupError as exc:
        raise ApiError(422, "backup_invalid", f"restore refused, the live database is unchanged: {exc}") from None
    except (OSError, sqlite3.Error) as exc:
        raise ApiError(500, "restore_failed", f"restore failed: {exc}") from None
    service.extensions.after_restore()  # the backup predates later pairings and revocations
    return result


class RestoreRequest(Strict):
    name: str = Field(min_length=1, max_length=200,
                      description="A file name in the data directory's backups folder (never a path)")


class CaptureState(Strict):
    paused: Flag


def set_capture(request: Request, service: Service) -> dict[str, Any]:
    body: CaptureState = request.body(CaptureState)
    service.set_capture_paused(body.paused)
    return {"paused": service.capture_paused}


def logs(request: Request, service: Service) -> dict[str, Any]:
    limit = request.query_int("limit", 100, 1, 1000)
    level = request.query("level")
    service.db_log_handler.flush_to(service.db)
    return {"items": recent_logs(service.db, limit, level.upper() if level else None)}


def backup_now(service: Service) -> Reply:
    return Reply(run_backup(service), 201)


def backups(service: Service) -> dict[str, Any]:
    return {"items": [b.as_dict() for b in list_backups(service.data_dir.backups)],
            "interval_s": service.config["database.backup_interval_s"],
            "keep": service.config["database.max_backups"],
            "encryption": service.config["database.backup_encryption"],
            **service.maintenance.status(),
            "offsite": service.offsite.status() if service.offsite else {"enabled": False}}


def restore(request: Request, service: Service) -> dict[str, Any]:
    body: RestoreRequest = request.body(RestoreRequest)
    return run_restore(service, body.name)


def maintenance(service: Service) -> dict[str, Any]:
    if service.db.sqlite_path is None:
        raise ApiError(409, "not_sqlite", "maintenance is for the local SQLite database")
    try:
        return service.maintenance.run_retention()
    except (OSError, sqlite3.Error) as exc:
        raise ApiError(500, "maintenance_failed", f"maintenance failed: {exc}") from None


ROUTES = (
    ApiRoute("POST", "/api/system/backup", backup_now, roles=ADMINS, tag="system",
             summary="Back the database up now (verified; admin)", responses={201: "backup written",
                                                                            500: "backup failed"}),
    ApiRoute("GET", "/api/system/backups", backups, roles=ADMINS, tag="system",
             summary="List backups, newest first, with the job running now and the last outcome (admin)"),
    ApiRoute("POST", "/api/system/restore", restore, roles=ADMINS, tag="system", body=RestoreRequest,
             summary="Restore a backup from the backups folder (admin)",
             description="Captures answer 503 with Retry-After while it runs; the current database is first "
                         "saved as a -pre-restore backup; the backup is checked before it replaces the "
                         "live content.",
             responses={200: "restored", 404: "no such backup", 409: "another backup or restore is running",
                        422: "the backup is damaged, needs another key or is not a CRM Agent database"}),
    ApiRoute("POST", "/api/system/maintenance", maintenance, roles=ADMINS, tag="system",
             summary="Run the database maintenance now: retention, ANALYZE, VACUUM when worthwhile (admin)"),
    ApiRoute("POST", "/api/system/capture", set_capture, roles=ADMINS, tag="system", body=CaptureState,
             summary="Pause or resume capture (admin)"),
    ApiRoute("GET", "/api/system/logs", logs, roles=ADMINS, tag="system",
             summary="Recent warnings and errors from system_logs (admin)",
             query=(("limit", "integer", "1-1000"), ("level", "string", "WARNING, ERROR or CRITICAL"))),
)
