"""GET /api/metrics/dashboard."""

from __future__ import annotations

from typing import Any

from api.plugins import Request
from crm import metrics
from crm.service import Service


def register(routes, service: Service) -> None:  # noqa: ANN001
    def dashboard(request: Request) -> dict[str, Any]:
        return metrics.dashboard(service.db, service.clock, service.data_dir.root)

    routes.add("GET", "/api/metrics/dashboard", dashboard, tag="metrics", summary="Dashboard figures",
               description=metrics.__doc__ or "")
