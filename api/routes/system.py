"""Agent controls for local clients: pause/resume capture, recent warnings and errors."""

from __future__ import annotations

from typing import Any

from api.plugins import Request
from api.schemas import Strict
from core import events
from core.clock import iso
from crm.service import Service
from storage.system_logs import recent_logs


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

    routes.add("POST", "/api/system/capture", set_capture, auth="admin", tag="system", body=CaptureState,
               summary="Pause or resume capture (admin)")
    routes.add("GET", "/api/system/logs", logs, auth="admin", tag="system",
               summary="Recent warnings and errors from system_logs (admin)",
               query=(("limit", "integer", "1-1000"), ("level", "string", "WARNING, ERROR or CRITICAL")))

