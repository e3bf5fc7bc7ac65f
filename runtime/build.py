"""The composition root: build_service(config, data_dir) creates every part of the service once and hands each
what it needs. Nothing is patched into the Service afterwards.

The served service passes its event loop (runtime/serve.py gevent_event_loop): maintenance then runs slow file
work on the loop's thread pool, and capture batches are analysed by the rules worker process, whose reads the
loop can time out. Without a loop (tests, the API reference, benches in one process) everything runs in the
calling thread, and no helper process is started for the rules.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai.analysis import Analyzer
from ai.builtin import BuiltinAnalyzer
from ai.items import analyse_items
from ai.rules_client import RulesWorkerClient
from core import events
from core.children import agent_command
from core.clock import Clock, iso
from core.config import Config
from core.events import EventBus
from core.paths import DataDir
from core.secrets_store import read_or_create_secret, read_secret
from crm.access import LoginGuard, TokenService
from crm.ai_models import ModelCatalog
from crm.analysis import AnalysisCoordinator, make_worker
from crm.analysis_backfill import AnalysisBackfill
from crm.capture import CapturePipeline, one_batch_at_a_time
from crm.drafts import Drafts, DraftSettings
from crm.extensions import ExtensionRegistry
from crm.grounding import Grounding
from crm.maintenance import Maintenance
from crm.metrics import system_usage
from crm.monitor import MonitorSettings, SystemMonitor
from crm.offsite import OffsiteBackups
from crm.pairing import PairingLimits, Pairings
from crm.ratelimit import RateLimiter
from crm.service import Service
from crm.sync import SyncAgent, SyncSettings
from crm.users import ensure_first_admin
from storage import users as user_rows
from storage.backups import BackupInfo, newest_verified_backup
from storage.clean_stop import record_clean_stop, schema_problem, take_clean_stop
from storage.database import Database, DatabaseDamaged, database_url, sqlite_file_problem
from storage.migrations import migrate
from storage.system_logs import DatabaseLogHandler


@dataclass(frozen=True)
class EventLoop:
    """What the service's event loop offers to work that must not block it."""

    off_loop: Callable[[Callable[[], Any]], Any]  # run blocking work on a worker thread and wait for its result
    call_on_loop: Callable[[Callable[[], None]], None]  # hand a callback from a worker thread to the loop
    timeout: Callable[[float], Any]  # a context manager that silently ends a wait after so many seconds


def service_database_url(config: Config, data_dir: DataDir) -> str:
    """database.path as a URL; by default the SQLite file in the data directory."""
    return database_url(config["database.path"], data_dir.database)


def open_database(config: Config, data_dir: DataDir) -> Database:
    return Database(service_database_url(config, data_dir), busy_timeout_ms=config["database.busy_timeout_ms"],
                    synchronous=config["database.synchronous"], pool_size=config["database.pool_size"],
                    cache_mib=config["database.cache_mib"])


log = logging.getLogger("crm_agent.start")

SQLITE_PREFIX = "sqlite:///"
EMPTY_FILE = "the file is empty"


def refuse_a_damaged_database(config: Config, data_dir: DataDir) -> None:
    """Raise DatabaseDamaged (one line naming the newest verified backup and the command that restores it)
    when the SQLite file is damaged; before it is opened, so it is never replaced by a new, empty database."""
    path = service_sqlite_file(config, data_dir)
    if path is None:
        return
    started = time.monotonic()
    if path.exists() and take_clean_stop(path, data_dir.clean_stop_file):
        check, problem = "schema (untouched since a clean stop)", schema_problem(path)
    else:
        check, problem = "quick_check", sqlite_file_problem(path)
    log.info("database start-up check: %s in %.2f s", check, time.monotonic() - started)
    if problem is None:
        return
    newest = newest_verified_backup(data_dir.backups)
    if problem == EMPTY_FILE and newest is None:
        return  # a first start cut short before the schema was written: nothing was ever stored
    raise DatabaseDamaged(damaged_database_line(path, problem, newest, data_dir))


def service_sqlite_file(config: Config, data_dir: DataDir) -> Path | None:
    """The service's SQLite file; None when database.path names another database (PostgreSQL on a hub)."""
    url = service_database_url(config, data_dir)
    return Path(url[len(SQLITE_PREFIX):]) if url.startswith(SQLITE_PREFIX) else None


def mark_clean_stop(service: Service) -> None:
    """After service.close(): record the files' stamps so the next start skips the full quick_check
    (storage/clean_stop.py says why that is safe)."""
    path = service_sqlite_file(service.config, service.data_dir)
    if path is None:
        return
    try:
        record_clean_stop(path, service.data_dir.clean_stop_file)
    except OSError as exc:  # a full disk: the next start just checks the whole file
        log.warning("could not record the clean stop: %s", exc)


def damaged_database_line(path: Path, problem: str, newest: BackupInfo | None, data_dir: DataDir) -> str:
    """What `agent.py serve` prints (and the tray shows) when it refuses a damaged database: one line."""
    where = f" --data-dir {data_dir.root}"
    if newest is not None:
        action = (f"the newest verified backup is {newest.name} ({newest.created_at}); restore it with: "
                  f"agent.py backup restore --latest{where}")
    else:
        action = (f"there is no verified backup in {data_dir.backups}; restore a backup file with: agent.py backup "
                  f"restore FILE{where}, or move the damaged file aside to start with an empty database")
    return f"error: the database {path} is damaged ({problem}); the service does not start on it: {action}"


def migrate_or_refuse(db: Database, now: str, data_dir: DataDir) -> None:
    """Migrate; a file quick_check passed but whose tables cannot be read is refused like a damaged one."""
    try:
        migrate(db, now)
    except sqlite3.DatabaseError as exc:
        db.close()
        path = Path(db.url[len(SQLITE_PREFIX):]) if db.url.startswith(SQLITE_PREFIX) else data_dir.database
        raise DatabaseDamaged(damaged_database_line(path, str(exc), newest_verified_backup(data_dir.backups),
                                                    data_dir)) from exc


def build_service(config: Config, data_dir: DataDir, clock: Clock | None = None,
                  analyzer: Analyzer | None = None, hub: bool = False, loop: EventLoop | None = None) -> Service:
    """analyzer replaces the built-in one (tests); the LLM worker follows ai.llm_enabled and ai.engine.

    hub=True builds a team hub: it serves /api/sync/* and does not sync anywhere itself.
    loop: the served service's event loop (see the module's docstring); None runs everything in-process.
    """
    clock = clock or Clock()
    data_dir.ensure()
    refuse_a_damaged_database(config, data_dir)
    db = open_database(config, data_dir)
    migrate_or_refuse(db, iso(clock.now()), data_dir)
    bus = EventBus(config["websocket.event_buffer"])
    analyzer = analyzer or BuiltinAnalyzer()
    tokens = TokenService(
        secret=read_or_create_secret(data_dir.jwt_secret_file, 32),
        expiry_s=config["security.token_expiry_s"],
        local_token=read_or_create_secret(data_dir.local_token_file, 32),
        clock=clock,
        standing=user_rows.TokenStandings(db),
    )
    rate, burst = config["security.rate_limit_per_s"], config["security.rate_limit_burst"]
    login_rate = config["security.login_rate_per_min"] / 60.0
    db_log_handler = DatabaseLogHandler(clock)
    logging.getLogger().addHandler(db_log_handler)
    grounding = Grounding(db)
    coordinator = AnalysisCoordinator(analyzer, make_worker(config, str(data_dir.root)), config["ai.engine"], db,
                                      bus, clock, rules_worker=rules_worker_client(config, analyzer, loop),
                                      ground=grounding.apply)
    monitor = SystemMonitor(MonitorSettings.from_config(config), lambda: system_usage(data_dir.root), clock,
                            lambda event_type, data: bus.publish(event_type, data, iso(clock.now())))

    def after_capture(record: dict[str, Any]) -> None:
        monitor.disk_writable()  # it committed: the disk has room again
        monitor.capture_seen(record)
        coordinator.follow_up(record)

    def publish(event_type: str, data: dict[str, Any]) -> None:
        bus.publish(event_type, data, iso(clock.now()))

    def publish_to(event_type: str, data: dict[str, Any], audience: str) -> None:
        bus.publish(event_type, data, iso(clock.now()), audience=audience)

    extensions = ExtensionRegistry(db, clock, publish)
    extensions.load()
    analyse_capture_batch = one_batch_at_a_time(coordinator.analyse_capture_batch)
    backfill = AnalysisBackfill(db, analyse_capture_batch, bus, clock, ground=grounding.apply_to_batch,
                                chunk=config["ai.backfill_chunk"])
    pipeline = CapturePipeline(db, analyse_capture_batch, bus, clock, config["capture.default_region"],
                               after_capture=after_capture, on_disk_full=lambda exc: monitor.disk_full(str(exc)),
                               ground=grounding.apply_to_batch, analysis_deferred=backfill.wake)
    return Service(
        config=config, data_dir=data_dir, clock=clock, db=db, analyzer=analyzer, bus=bus, tokens=tokens,
        login_guard=LoginGuard(clock, config["security.login_max_failures"], config["security.login_lockout_s"]),
        login_limiter=RateLimiter(clock, login_rate, burst=max(1, min(10, int(login_rate * 60)))),
        client_limiter=RateLimiter(clock, rate, burst),
        token_limiter=RateLimiter(clock, rate, burst),
        pipeline=pipeline,
        analysis_backfill=backfill,
        analysis=coordinator,
        monitor=monitor,
        db_log_handler=db_log_handler,
        maintenance=Maintenance(db, data_dir, config, bus, clock, writes_idle=lambda: pipeline.idle,
                                off_loop=loop.off_loop if loop else None,
                                call_on_loop=loop.call_on_loop if loop else None),
        capture_paused=config["capture.paused"],
        extensions=extensions,
        grounding=grounding,
        pairings=Pairings(extensions, clock, publish,
                          PairingLimits(starts_per_minute=config["security.pairing_starts_per_min"])),
        drafts=Drafts(coordinator.worker, DraftSettings.from_config(config), publish_to),
        ai_models=ModelCatalog(data_dir.models, config["ai.model_path"]),
        is_hub=hub,
        sync=None if hub else SyncAgent(db, SyncSettings.from_config(config, data_dir), clock,
                                        publish=lambda status: bus.publish(events.SYNC_STATUS, status,
                                                                           iso(clock.now())),
                                        read_token=lambda: read_secret(data_dir.hub_token_file),
                                        knowledge_pulled=lambda counts: publish(
                                            events.KNOWLEDGE_CHANGED, {"action": "synced", **counts})),
        offsite=None if hub else OffsiteBackups(data_dir, SyncSettings.from_config(config, data_dir),
                                                config["sync.offsite_backups"], clock,
                                                read_token=lambda: read_secret(data_dir.hub_token_file),
                                                off_loop=loop.off_loop if loop else None),
        first_admin_password=ensure_first_admin(db, clock, data_dir),
    )


def rules_worker_client(config: Config, analyzer: Analyzer, loop: EventLoop | None) -> RulesWorkerClient | None:
    """The rules worker process for capture batches (ai.rules_worker), only under an event loop: a stuck child is
    given up through the loop's timeout, and a batch it cannot answer is analysed here with the same analyzer."""
    if loop is None or not config["ai.rules_worker"]:
        return None
    return RulesWorkerClient(agent_command("rules-worker"), lambda items: analyse_items(analyzer, items),
                             timeout=loop.timeout)
