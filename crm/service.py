"""The running service's parts in one object (built once by runtime/build.py build_service).

No module-level state: the API, the CLI and the tests all receive this one Service object.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ai.analysis import AnalysisContext, Analyzer
from core.clock import Clock
from core.config import Config
from core.events import EventBus
from core.paths import DataDir
from crm.access import LoginGuard, TokenService
from crm.analysis import AnalysisCoordinator
from crm.capture import CapturePipeline
from crm.extensions import ExtensionRegistry
from crm.maintenance import Maintenance
from crm.monitor import SystemMonitor
from crm.pairing import Pairings
from crm.ratelimit import RateLimiter
from crm.sync import SyncAgent
from storage.database import Database
from storage.system_logs import DatabaseLogHandler

log = logging.getLogger(__name__)


@dataclass
class Service:
    config: Config
    data_dir: DataDir
    clock: Clock
    db: Database
    analyzer: Analyzer
    bus: EventBus
    tokens: TokenService
    login_guard: LoginGuard
    login_limiter: RateLimiter
    client_limiter: RateLimiter
    token_limiter: RateLimiter
    pipeline: CapturePipeline
    analysis: AnalysisCoordinator
    monitor: SystemMonitor
    db_log_handler: DatabaseLogHandler
    maintenance: Maintenance
    extensions: ExtensionRegistry
    pairings: Pairings
    started_monotonic: float = field(default_factory=time.monotonic)
    sync: SyncAgent | None = None  # this agent's sync with a team hub (None on a hub)
    is_hub: bool = False  # `agent.py serve --hub`: answers /api/sync/* for the team's agents
    first_admin_password: str | None = None
    capture_paused: bool = False
    desktop_clients: int = 0  # WebSocket sessions holding the local token: a tray or window is there

    def analyse(self, text: str, language: str | None, context: AnalysisContext,
                engine: str = "auto") -> dict[str, Any]:
        """Analyse a text with the requested engine; the built-in analyzer answers when the LLM cannot."""
        return self.analysis.analyse(text, language, context, engine)

    def close(self) -> None:
        self.analysis.close()
        logging.getLogger().removeHandler(self.db_log_handler)
        self.db_log_handler.flush_to(self.db)
        self.db.close()
