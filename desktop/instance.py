"""One process of a kind per data directory (the tray, the UI): a second launch hands its request to the
running one and exits.

The first instance holds an OS lock on `<data_dir>/<name>.lock` (core.oslock; the OS
drops it when the process dies, so a crash leaves no stale lock) and listens on a loopback TCP port written
into the lock file with a random key. A later instance that cannot take the lock reads port and key,
sends one line ("<key> open-dashboard"), waits for "ok" and exits 0.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.oslock import FileLock

log = logging.getLogger(__name__)

OPEN_DASHBOARD = "open-dashboard"
QUIT = "quit"  # the windows' "Quit CRM Agent" asks the tray to stop everything
RESTART_SERVICE = "restart-service"  # the settings window, after a change that needs a restart
OPEN_CONNECT = "open-connect"  # the Connect WhatsApp Web window (install the extension, pairing code)
REQUESTS = (OPEN_DASHBOARD, "open-settings", "open-logs", OPEN_CONNECT, QUIT, RESTART_SERVICE)
TRAY = "tray"
UI = "ui"


class InstanceLock:
    """`acquire()` is True in the first instance; then `serve(handler)` receives the others' requests."""

    def __init__(self, data_root: Path, name: str = TRAY) -> None:
        self.path = data_root / f"{name}.lock"
        self.info_path = data_root / f"{name}.instance"
        self._lock = FileLock(self.path)
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._key = secrets.token_hex(16)

    def acquire(self) -> bool:
        return self._lock.try_acquire()

    def serve(self, handler: Callable[[str], None]) -> int:
        """Listen for requests from later instances; handler(request) runs on the listener thread."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        self._server = server
        port = server.getsockname()[1]
        # Written after the listener is up: a reader that finds the file can connect.
        tmp = self.info_path.with_name(self.info_path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {port} {self._key}\n")
        os.replace(tmp, self.info_path)
        self._thread = threading.Thread(target=self._accept_loop, args=(server, handler), name="instance",
                                        daemon=True)
        self._thread.start()
        return port

    def _accept_loop(self, server: socket.socket, handler: Callable[[str], None]) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed by release()
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.makefile("r", encoding="utf-8").readline().strip()
                    key, _, request = line.partition(" ")
                    if not secrets.compare_digest(key, self._key) or request not in REQUESTS:
                        conn.sendall(b"refused\n")
                        continue
                    conn.sendall(b"ok\n")
                except OSError:
                    continue
            log.info("another launch asked: %s", request)
            try:
                handler(request)
            except Exception:
                log.exception("handling %s failed", request)

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        try:
            self.info_path.unlink()
        except FileNotFoundError:
            pass
        self._lock.release()


def instance_running(data_root: Path, name: str = TRAY) -> bool:
    """An instance of this kind has announced itself and its process is still alive.

    The announcement file outlives a process killed with SIGKILL; its pid tells. (Taking the lock to test it
    would race with an instance starting at that moment, which would then think another one runs.)
    """
    import psutil  # here, not at the top: the tray imports this module and never calls this (~1.3 MB)

    try:
        pid = int((data_root / f"{name}.instance").read_text(encoding="utf-8").split()[0])
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (OSError, ValueError, IndexError, psutil.Error):
        return False


def hand_over(data_root: Path, request: str = OPEN_DASHBOARD, timeout: float = 5.0, name: str = TRAY) -> bool:
    """Send request to the running instance; True when it answered ok. Waits for a starting instance
    (lock taken, listener not up yet) up to timeout."""
    info_path = data_root / f"{name}.instance"
    deadline = time.monotonic() + timeout
    while True:
        try:
            _pid, port, key = info_path.read_text(encoding="utf-8").split()
            with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as conn:
                conn.sendall(f"{key} {request}\n".encode())
                answer = conn.makefile("r", encoding="utf-8").readline().strip()
            return answer == "ok"
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
