"""`agent.py serve [--hub --db URL] [--host H] [--port N]`: the service (or a team hub), headless."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta
from pathlib import Path

from cli.context import Context
from core.oslock import FileLock

SERVICE_LOCK_WAIT_S = 600.0


def run(ctx: Context, args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all()  # before anything imports threading, socket or ssl
    from runtime.memory import release_freed_memory_to_os
    from runtime.serve import gevent_event_loop, serve_forever

    release_freed_memory_to_os()
    from core.config import ConfigError
    from core.config_paths import startup_path_problem
    from core.logging_setup import setup_logging
    from runtime.build import build_service
    from storage.database import DatabaseUnavailable

    data_dir = ctx.data_dir.ensure()
    data_dir.tighten_permissions()  # files an earlier version left 0644; agent.py's umask covers new ones
    tr = ctx.tr  # the settings' language, or the system's when they are invalid
    try:
        config = ctx.config
    except ConfigError as exc:
        print(tr._("config error: {error}").format(error=exc), file=ctx.stderr)
        return 1
    service_lock = take_service_lock(ctx)
    if service_lock is None:
        return 1
    if args.db:
        config = config.with_overrides({"database.path": args.db})
    if args.hub:
        from runtime.green_postgres import make_psycopg2_cooperative
        from runtime.hub import hub_config

        config = hub_config(config)
        make_psycopg2_cooperative()  # pushes wait for PostgreSQL side by side, each on a pooled connection
    problem = startup_path_problem(config)
    if problem:
        print(tr._("config error: {error}").format(error=problem), file=ctx.stderr)
        return 1
    log_file = Path(config["logging.file"]) if config["logging.file"] else data_dir.log_file
    try:
        setup_logging(config["logging.level"], log_file, config["logging.max_bytes"],
                      config["logging.backup_count"], to_stderr=False, buffered=True)
    except OSError as exc:
        print(tr._("config error: {error}").format(error=tr._("logging.file: cannot write {path}: {error}").format(
            path=log_file, error=exc.strerror or exc)), file=ctx.stderr)
        return 1
    try:
        service = build_service(config, data_dir, hub=args.hub, loop=gevent_event_loop())
    except DatabaseUnavailable as exc:
        logging.getLogger("crm_agent.server").error("%s", exc)  # the log keeps it too; the user sees one line
        print(exc, file=ctx.stderr)
        return 1
    host = args.host or config["server.host"]
    port = config["server.port"] if args.port is None else args.port

    def announce(line: str) -> None:
        print(line, file=ctx.stdout, flush=True)

    def first_start(user: str, password: str, file: Path) -> str:
        # Read back by the tray (tray/supervisor.py builds its pattern from this same message in this language).
        return tr._("First start: created user '{user}' with password {password} (also saved, readable only by "
                    "you, in {file})").format(user=user, password=password, file=file)

    return serve_forever(service, host, port, announce, first_start)


def take_service_lock(ctx: Context) -> FileLock | None:
    """Held for the service's lifetime (the OS drops it at exit): a restore run from the command line takes it
    too, so the service waits for the restore to finish instead of opening a database being replaced."""
    data_dir = ctx.data_dir
    lock = FileLock(data_dir.service_lock_file)
    if lock.try_acquire():
        return lock
    tr = ctx.tr
    print(tr._("waiting for the data directory's lock (a restore or another service is using it)"), file=ctx.stderr,
          flush=True)
    if lock.acquire(SERVICE_LOCK_WAIT_S):
        return lock
    print(tr._("error: {path} stayed locked for {duration}; is another service running on this data directory?")
          .format(path=data_dir.service_lock_file, duration=tr.duration(timedelta(seconds=SERVICE_LOCK_WAIT_S))),
          file=ctx.stderr)
    return None
