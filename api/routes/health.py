"""GET /api/health: is the service up, and in what state are its parts."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from api.roles import PUBLIC
from api.routes.sync import sync_status
from api.routing import ApiRoute
from core.version import VERSION
from crm.service import Service
from storage.migrations import schema_version


def health(service: Service) -> dict[str, Any]:
    return health_report(service)


def sync_part(service: Service) -> dict[str, Any]:
    try:
        return sync_status(service)
    except Exception as exc:  # noqa: BLE001 - health must answer whatever the database does
        return {"state": "error", "error": type(exc).__name__}


def health_report(service: Service) -> dict[str, Any]:
    try:
        database = {"state": "ok", "schema_version": schema_version(service.db)}
    except Exception as exc:  # noqa: BLE001 - health must answer whatever the database does
        database = {"state": "error", "error": type(exc).__name__}
    try:
        database["size_bytes"] = os.path.getsize(service.data_dir.database)
    except OSError:
        pass
    storage = service.monitor.storage_status()
    try:
        storage["free_bytes"] = shutil.disk_usage(service.data_dir.root).free
    except OSError:
        pass
    analyzer = {"engine": service.analyzer.name, "model_version": service.analyzer.model_version, "state": "ready"}
    active_alerts = service.monitor.active_alerts()
    parts: dict[str, Any] = {"database": database, "analyzer": analyzer, "ai": service.analysis.status(),
                             "alerts": {"active": active_alerts, "degraded": bool(active_alerts)},
                             "system": service.monitor.last_sample, "sync": sync_part(service),
                             "extensions": service.extensions.health(), "storage": storage}
    degraded = database["state"] != "ok" or service.capture_paused or any(
        isinstance(p, dict) and p.get("degraded") for p in parts.values())
    return {
        "status": "degraded" if degraded else "ok",
        "version": VERSION,
        "uptime_s": round(time.monotonic() - service.started_monotonic, 1),
        "pid": os.getpid(),
        "capture": {"paused": service.capture_paused},
        "websocket": {"clients": service.bus.subscriber_count, "last_event_id": service.bus.last_id},
        **parts,
    }


ROUTES = (
    ApiRoute("GET", "/api/health", health, roles=PUBLIC, tag="system", summary="Service health",
             description="No authentication. status is ok, or degraded when a part is not working."),
)
