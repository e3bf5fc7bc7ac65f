"""GET /api/metrics/dashboard and GET /api/metrics/system."""

from __future__ import annotations

from typing import Any

from api.plugins import Request
from api.roles import USERS
from api.routing import ApiRoute
from crm import metrics
from crm.service import Service

SYSTEM_DESCRIPTION = (
    "The system monitor's recent samples (CPU, RAM and disk in percent, oldest first; kept in memory, "
    "at most the last 120, one every monitor.sample_interval_s; empty right after a start) and the alerts "
    "active now with their alert.raised data.")


def dashboard(service: Service) -> dict[str, Any]:
    return metrics.dashboard(service.db, service.clock, service.data_dir.root)


def system(request: Request, service: Service) -> dict[str, Any]:
    limit = request.query_int("limit", service.monitor.history.maxlen or 120, 1, 1000)
    samples = list(service.monitor.history)[-limit:]
    return {"interval_s": service.config["monitor.sample_interval_s"], "samples": samples,
            "alerts": service.monitor.active_alert_details()}


ROUTES = (
    ApiRoute("GET", "/api/metrics/dashboard", dashboard, tag="metrics", roles=USERS, summary="Dashboard figures",
             description=metrics.__doc__ or ""),
    ApiRoute("GET", "/api/metrics/system", system, tag="metrics", roles=USERS,
             summary="Recent CPU/RAM/disk samples and active alerts", description=SYSTEM_DESCRIPTION,
             query=(("limit", "integer", "At most this many samples, the newest (default: all kept)"),),
             response_schema={"type": "object", "required": ["interval_s", "samples", "alerts"]}),
)
