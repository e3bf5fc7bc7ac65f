"""The running service's parts in one object (built once by runtime/build.py build_service).

No module-level state: the API, the CLI and the tests all receive this one Service object.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ai.analysis import AnalysisContext, Analyzer
from core import events
from core.clock import Clock, iso
from core.config import LIVE_KEYS, Config
from core.events import EventBus
from core.paths import DataDir
from core.secrets_store import replace_secret
from crm.access import LoginGuard, TokenService
from crm.ai_models import ModelCatalog
from crm.analysis import AnalysisCoordinator
from crm.analysis_backfill import AnalysisBackfill
from crm.capture import CapturePipeline
from crm.drafts import Drafts
from crm.extensions import ExtensionRegistry
from crm.grounding import Grounding
from crm.maintenance import Maintenance
from crm.monitor import MonitorSettings, SystemMonitor
from crm.offsite import OffsiteBackups
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
    drafts: Drafts  # "Draft with AI" replies in progress (crm/drafts.py)
    ai_models: ModelCatalog  # the GGUF files in the models folder (crm/ai_models.py)
    grounding: Grounding  # the knowledge index: grounded suggestions, matches() for the AI draft
    # Analyses a history import's older messages after its answer (runtime/jobs.py analyse_pending_messages).
    analysis_backfill: AnalysisBackfill | None = None
    started_monotonic: float = field(default_factory=time.monotonic)
    sync: SyncAgent | None = None  # this agent's sync with a team hub (None on a hub)
    offsite: OffsiteBackups | None = None  # uploads of this agent's backups to its hub (None on a hub)
    is_hub: bool = False  # `agent.py serve --hub`: answers /api/sync/* for the team's agents
    first_admin_password: str | None = None
    capture_paused: bool = False
    desktop_clients: int = 0  # WebSocket sessions holding the local token: a tray or window is there

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """An event for the live clients, stamped with the service's clock."""
        self.bus.publish(event_type, data, iso(self.clock.now()))

    def set_capture_paused(self, paused: bool) -> None:
        """Pause or resume capture (captures answer 503 while paused). capture.state is published also when
        nothing changed: the client that asked sees the state it asked for confirmed."""
        self.capture_paused = paused
        self.publish(events.CAPTURE_STATE, {"paused": paused})

    def apply_settings(self, changes: dict[str, Any]) -> None:
        """Take new, validated values of live settings (core.config.LIVE_KEYS) without a restart. Writing
        them to config.json is the caller's. ValueError, with nothing applied, for a key that needs a restart."""
        appliers = [(self._live_applier(key), value) for key, value in changes.items()]
        self.config = self.config.with_overrides(changes)
        for apply, value in appliers:
            apply(value)

    def _live_applier(self, key: str) -> Callable[[Any], None]:
        """How the running service takes a new value of one live key (self.config holds it by then): by key
        where one key has its own way, else by its section."""
        if key not in LIVE_KEYS:
            raise ValueError(f"{key} is not a live setting: it needs a restart")
        section = key.partition(".")[0]
        if key == "capture.paused":
            return self._take_capture_paused
        if key == "logging.level":
            return logging.getLogger().setLevel
        if section == "database":
            return self._reconfigure_maintenance
        if section == "monitor":
            return self._reconfigure_monitor
        raise ValueError(f"{key} is a live setting but the running service has no way to apply it")

    def _take_capture_paused(self, paused: bool) -> None:
        if paused != self.capture_paused:  # a saved value equal to the running state announces nothing
            self.set_capture_paused(paused)

    def _reconfigure_maintenance(self, _value: Any) -> None:
        self.maintenance.config = self.config  # backups and the maintenance job read these keys at each run

    def _reconfigure_monitor(self, _value: Any) -> None:
        self.monitor.apply_settings(MonitorSettings.from_config(self.config))

    def rotate_signing_key(self) -> None:
        """A new JWT signing key, written first (0600, atomically) and then used: every access token signed with
        the old key ends now, open WebSockets holding one included. The local token and paired extensions' tokens
        are not JWTs and keep working."""
        self.tokens.rotate(replace_secret(self.data_dir.jwt_secret_file, 32))
        log.info("JWT signing key rotated: every access token issued before ended")

    def desktop_client_connected(self) -> None:
        """A WebSocket session holding the local token began: a tray or window is there."""
        self.desktop_clients += 1

    def desktop_client_disconnected(self) -> None:
        self.desktop_clients -= 1

    def analyse(self, text: str, language: str | None, context: AnalysisContext,
                engine: str = "auto") -> dict[str, Any]:
        """Analyse a text with the requested engine; the built-in analyzer answers when the LLM cannot."""
        return self.analysis.analyse(text, language, context, engine)

    def close(self) -> None:
        self.analysis.close()
        logging.getLogger().removeHandler(self.db_log_handler)
        self.db_log_handler.flush_to(self.db)
        self.db.close()
