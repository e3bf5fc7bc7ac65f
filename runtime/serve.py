"""The served service's life: stop signals, bind, service.json, announce, background jobs, graceful stop.

Call only after gevent.monkey.patch_all() (`agent.py serve` does it first thing, cli/serve.py).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import gevent
import gevent.event

from api.server import AgentServer, make_server
from core.discovery import remove_service_info, write_service_info
from crm.service import Service
from runtime.build import EventLoop, mark_clean_stop
from runtime.diagnostics import report_memory_on_sigusr2
from runtime.jobs import BackgroundJobs

log = logging.getLogger("crm_agent.server")

STOP_GRACE_S = 2.0
FirstStartLine = Callable[[str, str, Path], str]  # (user, password, the file keeping it) -> the line to print


def gevent_event_loop() -> EventLoop:
    """gevent's hub as the service's event loop (for build_service): its thread pool and thread-safe callbacks."""
    hub = gevent.get_hub()
    return EventLoop(off_loop=hub.threadpool.apply, call_on_loop=hub.loop.run_callback_threadsafe,
                     timeout=lambda seconds: gevent.Timeout(seconds, False))


def serve_forever(service: Service, host: str, port: int, announce: Callable[[str], None] = print,
                  first_start: FirstStartLine | None = None) -> int:
    """Bind, announce the port, serve until SIGTERM/SIGINT, then stop gracefully. Returns an exit code."""
    # Handlers first: a SIGTERM right after the port is announced must still stop the service cleanly.
    stop = stop_on_signals()
    report_memory_on_sigusr2(service.data_dir.logs)
    server = make_server(service, host, port)
    server.start()
    write_service_info(service.data_dir, server.server_port)
    announce_start(service, host, server.server_port, announce, first_start or english_first_start)
    jobs = BackgroundJobs(service)
    jobs.start()
    stop.wait()
    log.info("stopping service")
    stop_gracefully(service, server, jobs)
    return 0


def stop_on_signals() -> gevent.event.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    return stop


def english_first_start(user: str, password: str, file: Path) -> str:
    return f"First start: created user '{user}' with password {password} (also saved, readable only by you, in {file})"


def announce_start(service: Service, host: str, bound: int, announce: Callable[[str], None],
                   first_start: FirstStartLine = english_first_start) -> None:
    """The first-start line is for a person (`agent.py serve` writes it in the user's language); the listening line
    is machine-read and stays English."""
    if service.first_admin_password:
        announce(first_start("admin", service.first_admin_password, service.data_dir.admin_password_file))
    # Printed last: tests and the tray read the port from this line.
    scheme = "https" if service.config["server.tls_cert_file"] else "http"
    role = "hub " if service.is_hub else ""
    announce(f"CRM Agent {role}service listening on {scheme}://{host}:{bound} (data: {service.data_dir.root})")
    log.info("service listening on %s:%d", host, bound)


def stop_gracefully(service: Service, server: AgentServer, jobs: BackgroundJobs) -> None:
    """WebSocket clients get a close, in-flight requests STOP_GRACE_S, then the jobs and the service stop."""
    if server.ws_endpoint is not None:
        server.ws_endpoint.close_all()
    # Idle keep-alive connections would otherwise hold the stop for the whole wait.
    server.stop(timeout=STOP_GRACE_S)
    jobs.stop()
    service.close()
    mark_clean_stop(service)
    remove_service_info(service.data_dir, os.getpid())
    sys.stdout.flush()
