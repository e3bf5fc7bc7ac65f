"""Agent controls for local clients: pause/resume capture, recent warnings and errors."""

from __future__ import annotations

import sqlite3
from typing import Any

from api.errors import ApiError
from api.plugins import Reply, Request
from api.schemas import Strict
from core import events
from core.clock import iso
from crm.service import Service
from storage.backups import BackupError, backup_database, list_backups
from storage.system_logs import recent_logs


def run_backup(service: Service, off_loop: bool) -> dict[str, Any]:
    """One verified backup of the live database; on gevent's thread pool when off_loop (the API)."""
    path = service.db.sqlite_path
    if path is None:
        raise ApiError(409, "not_sqlite", "backups are for the local SQLite database")

    def work() -> dict[str, Any]:
        return backup_database(path, service.data_dir.backups, service.config["database.max_backups"]).as_dict()

    try:
        if off_loop:
            import gevent

            return gevent.get_hub().threadpool.apply(work)
        return work()
    except (BackupError, OSError, sqlite3.Error) as exc:
        raise ApiError(500, "backup_failed", f"backup failed: {exc}") from None


class CaptureState(Strict):
    paused: bool


def register(routes, service: Service) -> None:  # noqa: ANN001
    def set_capture(request: Request) -> dict[str, Any]:
        body: CaptureState = request.body(CaptureState)
        service.capture_paused = body.paused
        service.bus.publish(events.CAPTURE_STATE, {"paused": body.paused}, iso(service.clock.now()))
        return {"paused": service.capture_paused}

    def logs(request: Request) -> dict[str, Any]:
        limit = request.query_int("limit", 100, 1, 1000)
        level = request.query("level")
        service.db_log_handler.flush_to(service.db)
        return {"items": recent_logs(service.db, limit, level.upper() if level else None)}

    def backup_now(request: Request) -> Reply:
        info = run_backup(service, off_loop=True)
        return Reply(info, 201)

    def backups(request: Request) -> dict[str, Any]:
        return {"items": [b.as_dict() for b in list_backups(service.data_dir.backups)],
                "interval_s": service.config["database.backup_interval_s"],
                "keep": service.config["database.max_backups"]}

    routes.add("POST", "/api/system/backup", backup_now, auth="admin", tag="system",
               summary="Back the database up now (verified; admin)", responses={201: "backup written",
                                                                              500: "backup failed"})
    routes.add("GET", "/api/system/backups", backups, auth="admin", tag="system",
               summary="List backups, newest first (admin)")
    routes.add("POST", "/api/system/capture", set_capture, auth="admin", tag="system", body=CaptureState,
               summary="Pause or resume capture (admin)")
    routes.add("GET", "/api/system/logs", logs, auth="admin", tag="system",
               summary="Recent warnings and errors from system_logs (admin)",
               query=(("limit", "integer", "1-1000"), ("level", "string", "WARNING, ERROR or CRITICAL")))

