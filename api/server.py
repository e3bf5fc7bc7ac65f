"""Run the service: gevent's WSGI server with TCP_NODELAY, the WebSocket upgrade, housekeeping, shutdown.

Call only after gevent.monkey.patch_all() (agent.py serve does it first thing).
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

import gevent
import gevent.event
from gevent.pywsgi import WSGIHandler, WSGIServer

from ai.rules_client import RulesWorkerClient
from ai.rules_worker import analyse_items
from api.app import create_app
from api.websocket import WebSocketEndpoint
from core import events
from core.children import agent_command
from core.clock import iso
from core.discovery import remove_service_info, write_service_info
from crm import metrics
from crm.service import Service
from crm.sync import SyncError
from storage.backups import list_backups
from storage.database import WalCheckpointer

log = logging.getLogger("crm_agent.server")

HOUSEKEEPING_INTERVAL_S = 2.0
METRICS_PUSH_INTERVAL_S = 10.0
WAL_CHECKPOINT_INTERVAL_S = 1.0
MAX_CONNECTIONS = 1000
STOP_GRACE_S = 2.0
FIRST_BACKUP_DELAY_S = 60.0  # the first automatic backup waits until start-up work has settled
FIRST_MAINTENANCE_DELAY_S = 600.0


class AgentHandler(WSGIHandler):
    """pywsgi's handler plus: WebSocket upgrades handed to the endpoint after its checks pass."""

    def handle_one_response(self) -> None:
        endpoint: WebSocketEndpoint | None = getattr(self.server, "ws_endpoint", None)
        if endpoint is not None and endpoint.accepts(self.environ):
            self.close_connection = True
            endpoint.serve(self.environ, self.socket)
            return
        super().handle_one_response()


class AgentServer(WSGIServer):
    handler_class = AgentHandler
    ws_endpoint: WebSocketEndpoint | None = None

    def handle(self, sock: socket.socket, address: Any) -> None:
        # Without TCP_NODELAY each keep-alive response waits for the peer's delayed ACK (~40 ms here).
        # (gevent calls wrap_socket_and_handle only for TLS servers; handle() sees every connection.)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().handle(sock, address)


class _ErrorLog:
    """pywsgi writes errors to a file-like object; send them to logging instead."""

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            log.warning("%s", text)

    def flush(self) -> None:
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_arguments(service: Service) -> dict[str, str]:
    """certfile/keyfile for gevent's server when server.tls_cert_file is set (a hub serving HTTPS)."""
    cert, key = service.config["server.tls_cert_file"], service.config["server.tls_key_file"]
    if not cert:
        return {}
    for setting, path in (("server.tls_cert_file", cert), ("server.tls_key_file", key or cert)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{setting}: no such file {path}")
    return {"certfile": cert, "keyfile": key or cert}


def make_server(service: Service, host: str, port: int) -> AgentServer:
    wsgi, policy = create_app(service)
    server = AgentServer((host.strip("[]"), port), wsgi, log=None, error_log=_ErrorLog(), spawn=MAX_CONNECTIONS,
                         **tls_arguments(service))
    server.init_socket()
    policy.port = server.server_port
    if not is_loopback(host):
        policy.host_names = policy.host_names | {host.lower()}
        log.warning("API bound to %s: reachable from the network, not only this machine", host)
    server.ws_endpoint = WebSocketEndpoint(service, policy)
    return server


def housekeeping(service: Service) -> None:
    """Flush warnings to system_logs, end expired pairings, and push dashboard figures to live clients."""
    ticks_per_push = max(1, int(METRICS_PUSH_INTERVAL_S / HOUSEKEEPING_INTERVAL_S))
    tick = 0
    while True:
        gevent.sleep(HOUSEKEEPING_INTERVAL_S)
        tick += 1
        try:
            service.db_log_handler.flush_to(service.db)
            service.pairings.expire()  # publishes pairing.ended, so the desktop's code window closes in time
            if tick % ticks_per_push == 0 and service.bus.subscriber_count:
                figures = metrics.dashboard(service.db, service.clock, service.data_dir.root)
                service.bus.publish(events.METRICS_UPDATED, figures, iso(service.clock.now()))
        except Exception:
            log.exception("housekeeping failed")


def scheduled_backups(service: Service) -> None:
    """A verified backup every database.backup_interval_s (0 turns them off), counted from the newest backup.

    Counting from the newest backup rather than from start means an agent restarted every day still backs
    up daily (a 24 h timer restarted with it would never fire).
    """
    interval = service.config["database.backup_interval_s"]
    if interval <= 0 or service.db.sqlite_path is None:
        return
    delay = seconds_until_next_backup(service, interval, just_started=True)
    while True:
        gevent.sleep(delay)
        try:
            service.maintenance.backup()
        except Exception:
            log.exception("scheduled backup failed")
            gevent.sleep(min(interval, 600))  # a failing backup is retried, not every loop turn
        delay = seconds_until_next_backup(service, interval)


def seconds_until_next_backup(service: Service, interval: float, just_started: bool = False) -> float:
    """Due `interval` after the newest backup; right after start, an overdue one waits for start-up to settle."""
    newest = list_backups(service.data_dir.backups)
    due_in = interval - (time.time() - newest[0].path.stat().st_mtime) if newest else 0.0
    if just_started:
        return max(due_in, min(interval, FIRST_BACKUP_DELAY_S))
    return max(due_in, 0.0)


def scheduled_maintenance(service: Service) -> None:
    """Retention, ANALYZE and VACUUM every database.maintenance_interval_s (0 turns it off)."""
    interval = service.config["database.maintenance_interval_s"]
    if interval <= 0 or service.db.sqlite_path is None:
        return
    gevent.sleep(min(interval, FIRST_MAINTENANCE_DELAY_S))
    while True:
        try:
            service.maintenance.run_retention()
        except Exception:
            log.exception("scheduled database maintenance failed")
        gevent.sleep(interval)


def use_gevent_for_maintenance(service: Service) -> None:
    """Backups, restores and VACUUM run on gevent's thread pool; their progress comes back to the loop."""
    hub = gevent.get_hub()
    service.maintenance.off_loop = hub.threadpool.apply
    service.maintenance.call_on_loop = hub.loop.run_callback_threadsafe


def sync_with_hub(service: Service) -> None:
    """A sync round every sync.interval_s, or at once when asked (POST /api/sync/now)."""
    agent = service.sync
    if agent is None or not agent.settings.configured:
        return
    wake = gevent.event.Event()
    agent.on_round_requested = wake.set
    while True:
        wake.clear()
        try:
            agent.sync_once()
        except SyncError as exc:
            log.warning("sync with the hub failed: %s", exc)
        except Exception:
            log.exception("sync round failed")
        wake.wait(agent.settings.interval_s)


def sample_system(service: Service) -> None:
    """Feed the system monitor every monitor.sample_interval_s (alerts go out as WS events)."""
    interval = service.config["monitor.sample_interval_s"]
    while True:
        gevent.sleep(interval)
        try:
            service.monitor.tick()
        except Exception:
            log.exception("system monitor failed")


def checkpoint_wal(service: Service) -> None:
    """Checkpoint SQLite's WAL every second on a worker thread (see storage.database.WalCheckpointer)."""
    path = service.db.sqlite_path
    if path is None:
        return
    checkpointer = WalCheckpointer(path)
    service.db.disable_auto_checkpoint()
    pool = gevent.get_hub().threadpool
    try:
        while True:
            gevent.sleep(WAL_CHECKPOINT_INTERVAL_S)
            try:
                pool.apply(checkpointer.checkpoint)
            except Exception:  # noqa: BLE001 - the next round retries; SQLite also checkpoints on close
                log.warning("WAL checkpoint failed", exc_info=True)
    finally:
        checkpointer.close()


def release_freed_memory_to_os() -> None:  # called first thing by `agent.py serve`
    """Keep allocations above 1 MiB in mmap (glibc), so freed big buffers go back to the OS.

    argon2 hashes passwords with 19 MiB of memory on a worker thread; glibc raises its mmap threshold
    after the first such free and then keeps ~19 MB per hash resident in the thread's arena (measured:
    idle RSS 116 MB instead of 78 MB after one login). A fixed threshold stops that.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold, m_arena_max = -3, -8
        libc.mallopt(m_mmap_threshold, 1024 * 1024)
        # One arena per worker thread (password hashing, WAL checkpoints) keeps its own free pages; the
        # service's threads are few and short-lived, so they share.
        libc.mallopt(m_arena_max, 1)
    except (OSError, AttributeError):
        pass


def serve_forever(service: Service, host: str, port: int, announce: Any = print) -> int:
    """Bind, announce the port, serve until SIGTERM/SIGINT, then stop gracefully. Returns an exit code."""
    if service.config["ai.rules_worker"]:
        service.analysis.rules_worker = RulesWorkerClient(
            agent_command("rules-worker"), lambda items: analyse_items(service.analyzer, items),
            timeout=lambda seconds: gevent.Timeout(seconds, False))
    # Handlers first: a SIGTERM right after the port is announced must still stop the service cleanly.
    stop = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    use_gevent_for_maintenance(service)
    server = make_server(service, host, port)
    server.start()
    bound = server.server_port
    write_service_info(service.data_dir, bound)
    if service.first_admin_password:
        announce(f"First start: created user 'admin' with password {service.first_admin_password} "
                 f"(also saved, readable only by you, in {service.data_dir.admin_password_file})")
    # Printed last: tests and the tray read the port from this line.
    scheme = "https" if service.config["server.tls_cert_file"] else "http"
    role = "hub " if service.is_hub else ""
    announce(f"CRM Agent {role}service listening on {scheme}://{host}:{bound} (data: {service.data_dir.root})")
    log.info("service listening on %s:%d", host, bound)
    keeper = gevent.spawn(housekeeping, service)
    checkpoints = gevent.spawn(checkpoint_wal, service)
    sampler = gevent.spawn(sample_system, service)
    backups = gevent.spawn(scheduled_backups, service)
    upkeep = gevent.spawn(scheduled_maintenance, service)
    syncer = gevent.spawn(sync_with_hub, service)
    stop.wait()
    log.info("stopping service")
    if server.ws_endpoint is not None:
        server.ws_endpoint.close_all()
    # In-flight requests get 2 s; idle keep-alive connections would otherwise hold the stop for the whole wait.
    server.stop(timeout=STOP_GRACE_S)
    keeper.kill()
    checkpoints.kill()
    sampler.kill()
    backups.kill()
    upkeep.kill()
    syncer.kill()
    service.close()
    remove_service_info(service.data_dir, os.getpid())
    sys.stdout.flush()
    return 0
