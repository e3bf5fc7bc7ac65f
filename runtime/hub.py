"""The team hub as a WSGI application for a production server: gunicorn with gevent workers (deploy/).

    gunicorn -c deploy/gunicorn.conf.py 'runtime.hub:create_hub_app()'

gunicorn loads the application in each worker after forking and after gevent's monkey patching (no preload), so
each worker builds its own Service here: its own PostgreSQL connection pool (database.pool_size), psycopg2 made
cooperative (runtime/green_postgres.py), nothing shared between workers but the database and the data directory.
`agent.py serve --hub` remains the one-process hub (cli/serve.py), built from the same hub_config().
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from api.app import create_app
from api.security import OriginPolicy
from core.config import Config, load_effective_config
from core.logging_setup import setup_logging
from core.oslock import FileLock
from core.paths import DataDir, resolve_data_dir
from crm.service import Service
from runtime.build import build_service
from runtime.green_postgres import make_psycopg2_cooperative

log = logging.getLogger("crm_agent.hub")

HUB_MAX_BODY = 16 * 1024 * 1024  # the largest server.max_body_bytes allows: a push batch of big rows
START_LOCK_WAIT_S = 600.0


class HubConfigError(ValueError):
    pass


def hub_config(config: Config, db: str | None = None) -> Config:
    """A hub takes pushes, not captures: no analysis workers, bodies as big as a push batch; db: its PostgreSQL
    URL when given on the command line (else database.path says it)."""
    overrides: dict[str, Any] = {"ai.llm_enabled": False, "ai.rules_worker": False,
                                 "server.max_body_bytes": max(config["server.max_body_bytes"], HUB_MAX_BODY)}
    if db:
        overrides["database.path"] = db
    return config.with_overrides(overrides)


class HubApp:
    """The WSGI callable gunicorn serves, holding the worker's Service so the worker can close it on exit."""

    def __init__(self, service: Service, wsgi: Callable, policy: OriginPolicy) -> None:
        self.service = service
        self.wsgi = wsgi
        self.policy = policy

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        return self.wsgi(environ, start_response)

    def listening_on(self, port: int) -> None:
        """The port the worker's socket is bound to: the Host check accepts it (gunicorn's post_worker_init)."""
        self.policy.port = port

    def close(self) -> None:
        self.service.close()


def create_hub_app(data_dir: str | None = None, config_file: str | None = None, db: str | None = None,
                   environ: Mapping[str, str] | None = None) -> HubApp:
    """Build one worker's hub. data_dir: else $CRM_AGENT_HOME, else the per-user data directory; config_file: else
    config.json there; db: else database.path (e.g. CRM_AGENT__DATABASE__PATH=postgresql://crm@/crm_hub)."""
    environ = os.environ if environ is None else environ
    make_psycopg2_cooperative()
    root = DataDir(resolve_data_dir(data_dir, environ)).ensure()
    config = hub_config(load_effective_config(Path(config_file) if config_file else root.config_file, environ), db)
    if not config["database.path"].startswith(("postgresql:", "postgres:")):
        raise HubConfigError("a hub needs PostgreSQL: set database.path (or CRM_AGENT__DATABASE__PATH) to a "
                             "postgresql:// URL")
    # Workers write the same log: to stderr (gunicorn's, the journal under systemd), never one rotating file.
    setup_logging(config["logging.level"], None, config["logging.max_bytes"], config["logging.backup_count"],
                  to_stderr=True)
    # Workers start together: the first start's files (JWT key, local token, the admin's password) and rows must
    # be made once, so they build one at a time (migrations also take a PostgreSQL lock, for other machines).
    start_lock = FileLock(root.root / "hub-start.lock")
    if not start_lock.acquire(START_LOCK_WAIT_S):
        raise HubConfigError(f"{start_lock.path} stayed locked for {START_LOCK_WAIT_S:.0f} s")
    try:
        from runtime.serve import gevent_event_loop

        service = build_service(config, root, hub=True, loop=gevent_event_loop())
    finally:
        start_lock.release()
    if service.first_admin_password:
        log.info("first start: created user 'admin'; its password is in %s", root.admin_password_file)
    wsgi, policy = create_app(service)
    log.info("hub worker %d ready (pool of %d connections)", os.getpid(), config["database.pool_size"])
    return HubApp(service, wsgi, policy)
