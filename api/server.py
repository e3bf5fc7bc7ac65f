"""The gevent WSGI adapter: gevent's server with TCP_NODELAY, the WebSocket upgrade, TLS, the loopback check,
and the connection limits of api/connections.py (header, body and keep-alive timeouts; a cap on open ones).

The service's life around it (signals, jobs, shutdown) is runtime/serve.py. Call only after
gevent.monkey.patch_all() (agent.py serve does it first thing).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from api.app import create_app
from api.connections import (
    FILES_RESERVE,
    Connection,
    ConnectionTable,
    DeadlineReader,
    HeadersTooLarge,
    Phase,
    connection_limit,
    raise_open_files_limit,
)
from api.errors import error_body
from api.request_headers import parse_request_headers
from api.websocket import WebSocketEndpoint
from crm.service import Service

log = logging.getLogger("crm_agent.server")

REFUSED_LINGER_S = 0.5  # a refused connection waits this long for its request, so the client reads the 503
# A response body up to this size leaves in the same send as its headers (one syscall, one TCP segment); a
# bigger one is sent apart, as pywsgi does, rather than copied (bench/README.md, "Capture path (issue 17)").
COALESCE_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    """server.header_timeout_s, body_timeout_s, keepalive_timeout_s (core/config.py says what each bounds)."""

    header_s: float
    body_s: float
    keepalive_s: float


def _error_response(status: str, code: str, message: str) -> bytes:
    """A whole JSON error response that closes the connection, for answers given before the application."""
    body = error_body(code, message)
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("latin-1") + body


class _HeaderTimeout(ValueError):
    """The request line and headers did not all arrive in time (a ValueError: pywsgi's client-error path)."""


class _HeadersRefused(ValueError):
    """Headers too long or too many."""


class AgentHandler(WSGIHandler):
    """pywsgi's handler plus: reads that end at the connection's deadline, its phase kept in the server's
    ConnectionTable, and WebSocket upgrades handed to the endpoint after its checks pass."""

    server: AgentServer

    def __init__(self, sock: Any, address: Any, server: AgentServer, connection: Connection) -> None:
        self.connection = connection
        self.requests_begun = 0
        self._unsent: bytearray | None = None  # headers and body gathered for one send (_write_with_headers)
        # pywsgi's rfile argument (undocumented, kept since 1.0) instead of sock.makefile(): the same buffered
        # reads, through a reader that knows the deadline.
        super().__init__(sock, address, server, rfile=io.BufferedReader(DeadlineReader(connection, server.connections)))

    def _write_with_headers(self, data: bytes) -> None:
        """pywsgi sends the headers, then the body: two syscalls (and, with TCP_NODELAY, two segments) per
        answer. Gather both and send them at once when the body is small, as every API answer is."""
        if len(data) > COALESCE_MAX_BYTES:
            super()._write_with_headers(data)
            return
        self._unsent = bytearray()
        try:
            super()._write_with_headers(data)  # its sends land in _unsent (the chunked framing included)
            unsent = self._unsent
        finally:
            self._unsent = None
        super()._sendall(unsent)

    def _sendall(self, data: bytes) -> None:
        if self._unsent is not None:
            self._unsent += data
            return
        super()._sendall(data)

    def MessageClass(self, fp: Any, *_: Any) -> Any:  # pywsgi calls its headers factory by this name
        return parse_request_headers(fp)

    def log_request(self) -> None:
        """Nothing: the request log is api/security.py's. pywsgi formats its own access line (a datetime, a
        %-format) after every response even when, as here (make_server: log=None), it then drops it."""

    def handle_one_request(self) -> Any:
        if self.rfile.closed or not self._next_request_begins():
            return None  # end of file, idle too long, or closed to make room: no answer expected
        return super().handle_one_request()

    def _next_request_begins(self) -> bool:
        """Wait for the first byte of a request. A new connection's deadline runs from its opening, so its
        whole request line and headers have server.header_timeout_s; a kept-alive one waits at most
        keepalive_timeout_s for that byte, then its headers have header_timeout_s."""
        connection, timeouts = self.connection, self.server.timeouts
        kept_alive = self.requests_begun > 0
        connection.header_bytes = 0
        if kept_alive:
            self.server.connections.enter(connection, Phase.WAITING)
            connection.deadline = time.monotonic() + timeouts.keepalive_s
        try:
            if not self.rfile.peek(1):
                return False
        except OSError:
            return False
        if kept_alive:
            connection.deadline = time.monotonic() + timeouts.header_s
        self.requests_begun += 1
        self.server.connections.enter(connection, Phase.HEADERS)
        return True

    def read_requestline(self) -> str:
        try:
            return super().read_requestline()
        except TimeoutError:
            # pywsgi closes quietly on a socket error here; answer first, like for the headers below.
            self._log_header_timeout()
            self._send_quietly(self._header_timeout_response())
            return ""

    def read_request(self, raw_requestline: str) -> bool:
        try:
            parsed = super().read_request(raw_requestline)
        except TimeoutError:
            raise _HeaderTimeout("request headers timed out") from None
        except (HeadersTooLarge, http.client.HTTPException) as exc:
            raise _HeadersRefused(str(exc)) from None
        # The headers are in: the body, if any, has server.body_timeout_s from now.
        self.connection.deadline = time.monotonic() + self.server.timeouts.body_s
        self.server.connections.enter(self.connection, Phase.ACTIVE)
        return parsed

    def _handle_client_error(self, ex: Exception) -> tuple[str, bytes]:
        if isinstance(ex, _HeaderTimeout):
            self._log_header_timeout()
            return "408", self._header_timeout_response()
        if isinstance(ex, _HeadersRefused):
            log.info("refused a request: %s", ex)
            return "431", _error_response("431 Request Header Fields Too Large", "headers_too_large",
                                          "request headers are too long or too many")
        return super()._handle_client_error(ex)

    def _header_timeout_response(self) -> bytes:
        return _error_response("408 Request Timeout", "request_timeout",
                               f"request headers did not arrive within {self.server.timeouts.header_s:g} s")

    def _log_header_timeout(self) -> None:
        # INFO, not WARNING: a slowloris attack makes one line per connection.
        log.info("closed a connection whose request headers did not arrive within %g s",
                 self.server.timeouts.header_s)

    def _send_quietly(self, data: bytes) -> None:
        try:
            self.socket.sendall(data)
        except OSError:
            pass

    def handle_one_response(self) -> None:
        endpoint: WebSocketEndpoint | None = getattr(self.server, "ws_endpoint", None)
        if endpoint is not None and endpoint.accepts(self.environ):
            self.close_connection = True
            # A WebSocket has its own pings and limits; the HTTP deadlines end here.
            self.connection.deadline = None
            self.server.connections.enter(self.connection, Phase.UPGRADED)
            endpoint.serve(self.environ, self.socket)
            return
        super().handle_one_response()
        if self._request_body_left_unread():
            # pywsgi could not read past the body the application left (timed out or cut short): the next
            # bytes are not the start of a request.
            self.close_connection = True

    def _request_body_left_unread(self) -> bool:
        body = self.wsgi_input
        if body is None:
            return False
        if body.chunked_input:
            return body.chunk_length != 0  # 0 once the last chunk is read (-1 before the first)
        return body.position < (body.content_length or 0)


class AgentServer(WSGIServer):
    """gevent's WSGI server with every connection admitted through a ConnectionTable (the cap) and served
    by an AgentHandler (the timeouts)."""

    handler_class = AgentHandler
    ws_endpoint: WebSocketEndpoint | None = None
    # gevent's 128 overflows when an attacker reconnects every connection the cap closes: a dropped SYN costs
    # the next client a 1 s retransmission. Linux caps it at net.core.somaxconn (4096 since 5.4).
    backlog = 1024

    def __init__(self, listener: Any, application: Any, *, connections: ConnectionTable, timeouts: Timeouts,
                 **kwargs: Any) -> None:
        self.connections = connections
        self.timeouts = timeouts
        # An unbounded pool: the ConnectionTable bounds the connections. A full pool makes gevent stop
        # accepting, which is how 1,000 idle connections used to keep every new request out.
        super().__init__(listener, application, spawn=Pool(), **kwargs)

    def handle(self, sock: socket.socket, address: Any) -> None:
        """A plain TCP connection (gevent calls wrap_socket_and_handle instead for TLS)."""
        connection = self._admit(sock, tls=False)
        if connection is not None:
            self._serve(connection, address)

    def wrap_socket_and_handle(self, client_socket: socket.socket, address: Any) -> None:
        """A TLS connection: admitted before its handshake, which the header timeout bounds too, or a
        client that never completes one would hold its connection forever."""
        connection = self._admit(client_socket, tls=True)
        if connection is None:
            return
        client_socket.settimeout(self.timeouts.header_s)
        try:
            tls_socket = self.wrap_socket(client_socket, **self.ssl_args)
        except OSError:  # the handshake failed or timed out (ssl.SSLError is an OSError)
            self.connections.remove(connection)
            return
        with tls_socket:
            connection.sock = tls_socket  # the same descriptor: Connection.shut() still reaches it
            self._serve(connection, address)

    def _admit(self, sock: socket.socket, tls: bool) -> Connection | None:
        connection = Connection(sock)
        connection.deadline = time.monotonic() + self.timeouts.header_s
        if self.connections.admit(connection):
            return connection
        log.warning("refused a connection: all %d are busy (server.max_connections)", self.connections.limit)
        if not tls:  # a TLS client would not understand a plain-text answer
            self._refuse(sock)
        return None

    def _serve(self, connection: Connection, address: Any) -> None:
        # Without TCP_NODELAY each keep-alive response waits for the peer's delayed ACK (~40 ms here).
        try:
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            self.handler_class(connection.sock, address, self, connection).handle()
        finally:
            self.connections.remove(connection)

    def _refuse(self, sock: socket.socket) -> None:
        """Every open connection is busy (answering, or a WebSocket): a 503, and the connection closed."""
        try:
            sock.sendall(_error_response("503 Service Unavailable", "server_busy",
                                         "too many connections are busy; retry shortly"))
            # Closing with the request unread would reset the connection, and the client could lose the 503.
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(REFUSED_LINGER_S)
            while sock.recv(65536):
                pass
        except OSError:
            pass


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


def connection_table(service: Service) -> ConnectionTable:
    """The cap on open connections: server.max_connections, within the open files this process may hold."""
    configured = service.config["server.max_connections"]
    open_files = raise_open_files_limit(configured + FILES_RESERVE)
    limit = connection_limit(configured, open_files)
    if limit < configured:
        log.warning("server.max_connections lowered from %d to %d: this process may open only %d files",
                    configured, limit, open_files)
    return ConnectionTable(limit)


def server_timeouts(service: Service) -> Timeouts:
    config = service.config
    return Timeouts(header_s=config["server.header_timeout_s"], body_s=config["server.body_timeout_s"],
                    keepalive_s=config["server.keepalive_timeout_s"])


def make_server(service: Service, host: str, port: int) -> AgentServer:
    wsgi, policy = create_app(service)
    server = AgentServer((host.strip("[]"), port), wsgi, connections=connection_table(service),
                         timeouts=server_timeouts(service), log=None, error_log=_ErrorLog(),
                         **tls_arguments(service))
    server.init_socket()
    policy.port = server.server_port
    if not is_loopback(host):
        policy.host_names = policy.host_names | {host.lower()}
        log.warning("API bound to %s: reachable from the network, not only this machine", host)
    server.ws_endpoint = WebSocketEndpoint(service, policy)
    return server
