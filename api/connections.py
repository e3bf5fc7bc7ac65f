"""What one connection may hold, and how many may be open: deadlines on reads, and a cap that makes room.

Every caller is on loopback, so clients cannot be told apart by address and a per-client cap is not possible.
Instead, as production servers do (nginx client_header_timeout, client_body_timeout, keepalive_timeout,
worker_connections), each connection gets a deadline for what it is waiting for, and the table of open
connections keeps room for a new one by closing the connection that has waited longest for its request.
No gevent here: api/server.py wires these into gevent's pywsgi handler.
"""

from __future__ import annotations

import enum
import io
import socket
import time
from typing import Any

FILES_RESERVE = 256  # open files the service needs besides its connections: database, logs, pipes, workers
# Request line and headers together (nginx: 1 KiB + 4 x 8 KiB; Node: 16 KiB). Ours need ~1 KiB (a JWT); without
# a bound, http.client takes 100 lines of 64 KiB, 6.5 MB that a slow sender could hold for the header timeout.
MAX_HEADER_BYTES = 64 * 1024

# A body's deadline moves 1 s later for every MIN_BODY_BYTES_PER_S bytes received (Apache mod_reqtimeout's
# MinRate): a hub agent's big push over a slow but steady link finishes, a trickle is still cut off.
MIN_BODY_BYTES_PER_S = 500


class HeadersTooLarge(OSError):
    """More than MAX_HEADER_BYTES before the headers ended (an OSError: pywsgi then drops the connection)."""


class Phase(enum.Enum):
    WAITING = "waiting"  # for the first byte of a request: a new connection or an idle keep-alive
    HEADERS = "headers"  # a request has begun; its request line and headers are not all there
    BODY = "body"  # blocked reading a request body
    ACTIVE = "active"  # the application is answering
    UPGRADED = "upgraded"  # a WebSocket: its own pings and limits (api/websocket.py)


# The order in which connections make room for a new one; ACTIVE and UPGRADED are never closed for it.
EVICTION_ORDER = (Phase.WAITING, Phase.HEADERS, Phase.BODY)


class Connection:
    """One open connection: its socket, its phase, and the deadline of what it waits for."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.phase = Phase.WAITING
        self.deadline: float | None = None  # time.monotonic() by which the current read must end
        self.header_bytes = 0  # received since it began to wait for this request, checked against MAX_HEADER_BYTES
        self.evicted = False

    def shut(self) -> None:
        """End the connection from outside its greenlet: a read it is blocked in returns end-of-file, so
        its handler closes it the ordinary way. The plain socket's shutdown() also under TLS: an SSL socket's
        own drops its TLS state under the read in progress, which then fails with a traceback."""
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed or reset


class ConnectionTable:
    """The open connections by phase, each phase oldest first, and the cap on how many are open."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # dicts keep insertion order: re-inserting on a phase change makes each one oldest-first.
        self._by_phase: dict[Phase, dict[int, Connection]] = {phase: {} for phase in Phase}
        self.open = 0
        self.evicted = 0

    def admit(self, connection: Connection) -> bool:
        """Add a new connection, closing the longest-waiting other one when the cap is reached. False when
        nothing can make room (every other connection is busy): the caller answers 503 and closes it."""
        self._by_phase[connection.phase][id(connection)] = connection
        self.open += 1
        while self.open > self.limit:
            victim = self._longest_waiting(other_than=connection)
            if victim is None:
                self.remove(connection)
                return False
            self.evict(victim)
        return True

    def enter(self, connection: Connection, phase: Phase) -> None:
        if connection.evicted or connection.phase is phase:
            return
        del self._by_phase[connection.phase][id(connection)]
        connection.phase = phase
        self._by_phase[phase][id(connection)] = connection

    def remove(self, connection: Connection) -> None:
        if self._by_phase[connection.phase].pop(id(connection), None) is not None:
            self.open -= 1

    def evict(self, connection: Connection) -> None:
        self.remove(connection)
        connection.evicted = True
        self.evicted += 1
        connection.shut()

    def count(self, phase: Phase) -> int:
        return len(self._by_phase[phase])

    def _longest_waiting(self, other_than: Connection) -> Connection | None:
        for phase in EVICTION_ORDER:
            for candidate in self._by_phase[phase].values():  # oldest first
                if candidate is not other_than:
                    return candidate
        return None


class DeadlineReader(io.RawIOBase):
    """The connection's bytes for pywsgi's rfile: each read gives up at connection.deadline with TimeoutError
    (an OSError, which pywsgi treats as a client gone). The socket is left blocking for writes afterwards:
    responses are not timed here."""

    def __init__(self, connection: Connection, table: ConnectionTable) -> None:
        super().__init__()
        self.connection = connection
        self.table = table

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        connection = self.connection
        if connection.phase is Phase.ACTIVE:
            # Blocked on the body: a connection may make room for a new one while it waits (EVICTION_ORDER).
            self.table.enter(connection, Phase.BODY)
            try:
                received = self._receive(buffer)
            finally:
                self.table.enter(connection, Phase.ACTIVE)
            if connection.deadline is not None:
                connection.deadline += received / MIN_BODY_BYTES_PER_S
            return received
        received = self._receive(buffer)
        if connection.phase is Phase.HEADERS or connection.phase is Phase.WAITING:
            connection.header_bytes += received
            if connection.header_bytes > MAX_HEADER_BYTES:
                raise HeadersTooLarge(f"request headers longer than {MAX_HEADER_BYTES} bytes")
        return received

    def _receive(self, buffer: Any) -> int:
        sock = self.connection.sock
        deadline = self.connection.deadline
        if deadline is None:
            return sock.recv_into(buffer)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no request data by the deadline ({self.connection.phase.value})")
        sock.settimeout(remaining)
        try:
            return sock.recv_into(buffer)
        finally:
            sock.settimeout(None)


def connection_limit(configured: int, open_files: int | None) -> int:
    """The cap on open connections: the configured one, lowered to what the open-files limit allows."""
    if open_files is None:
        return configured
    return max(1, min(configured, open_files - FILES_RESERVE))


def raise_open_files_limit(wanted: int) -> int | None:
    """Raise this process's soft limit on open files toward wanted, never above the hard limit (desktops
    often start processes at 1024, below what server.max_connections needs). The soft limit now in force;
    None where there is no such limit (Windows, or unlimited)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # e.g. macOS refuses more than OPEN_MAX: keep the soft limit, the cap is lowered to it
    return None if soft == resource.RLIM_INFINITY else soft
