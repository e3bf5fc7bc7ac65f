"""HTTP/1.1 and WebSocket over a plain TCP socket, for the desktop processes talking to the local service.

Why not urllib/http.client and websocket-client: both import `ssl` when they are imported, whatever the URL
(~6 MB of libssl/libcrypto in every desktop process, measured for issue 17), and the tray and the windows
only ever talk to the service on 127.0.0.1 over plain http:// and ws://. The protocols are not written here:
h11 (HTTP/1.1) and wsproto (RFC 6455, which the service already uses for its side) are sans-I/O state
machines that import no ssl; this module only moves their bytes over a socket. One request per connection
(Connection: close). An https:// or wss:// URL is refused (ValueError): TLS is not something to add here by
accident.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

RECV_BYTES = 65536
NORMAL_CLOSURE = 1000


class ProtocolError(OSError):
    """The peer answered something that is not the HTTP or WebSocket we expect (an OSError: callers already
    treat a broken connection to the service as "the service is unavailable")."""


@dataclass
class Target:
    host: str
    port: int
    path: str  # with the query string

    @property
    def host_header(self) -> str:
        return f"{self.host}:{self.port}"


def parse_url(url: str, plain: str = "http") -> Target:
    """host, port and path of an http:// (or ws://) URL; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme != plain or not parts.hostname:
        raise ValueError(f"only {plain}:// URLs to the local service are supported, not {parts.scheme}://")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.hostname, parts.port or 80, path)


def http_request(url: str, method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """One HTTP request on a new connection: (status, body) for any status. Raises OSError (refused, reset,
    timed out, not HTTP) and ValueError (not an http:// URL)."""
    target = parse_url(url)
    fields = [("Host", target.host_header), ("Connection", "close"), ("Accept-Encoding", "identity"),
              *(headers or {}).items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        fields.append(("Content-Length", str(len(body or b""))))
    conn = h11.Connection(h11.CLIENT)
    try:
        request = conn.send(h11.Request(method=method, target=target.path, headers=fields))
        request += (conn.send(h11.Data(data=body)) if body else b"") + conn.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:  # a header value with a line break, for instance
        raise ValueError(f"cannot send this request: {exc}") from exc
    with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
        sock.sendall(request)
        return _read_answer(conn, sock)


def _read_answer(conn: h11.Connection, sock: socket.socket) -> tuple[int, bytes]:
    status, parts = None, []
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(RECV_BYTES))  # b"" is the end of the connection, as h11 expects
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
    except h11.RemoteProtocolError as exc:
        raise ProtocolError(f"not an HTTP answer: {exc}") from exc
    if status is None:
        raise ProtocolError("connection closed before the HTTP answer")
    return status, b"".join(parts)


class WebSocket:
    """A client WebSocket on one socket. recv() gives the next text (str) or binary (bytes) message, "" once
    the service closed the connection; pings are answered on the way. One thread reads; close() and abort()
    may come from another."""

    def __init__(self, sock: socket.socket, ws: WSConnection) -> None:
        self.sock = sock
        self._ws = ws
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self.closed = False

    @classmethod
    def connect(cls, url: str, timeout: float = 5.0) -> WebSocket:
        """Open ws://host:port/path?query (no Origin header: the service's check is for browsers)."""
        target = parse_url(url, plain="ws")
        ws = WSConnection(ConnectionType.CLIENT)
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
        try:
            sock.sendall(ws.send(Request(host=target.host_header, target=target.path)))
            while True:
                data = sock.recv(RECV_BYTES)
                if not data:
                    raise ProtocolError("connection closed during the WebSocket handshake")
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, AcceptConnection):
                        return cls(sock, ws)  # frames that came with the answer stay in ws's buffer
                    if isinstance(event, (RejectConnection, RejectData)):
                        status = getattr(event, "status_code", "?")
                        raise ProtocolError(f"WebSocket handshake refused: HTTP {status}")
        except RemoteProtocolError as exc:
            sock.close()
            raise ProtocolError(f"WebSocket handshake: {exc}") from exc
        except BaseException:
            sock.close()
            raise

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def recv(self) -> str | bytes:
        while True:
            for event in self._ws.events():
                message = self._handle(event)
                if message is not None:
                    return message
            data = self.sock.recv(RECV_BYTES)
            if not data:
                raise ProtocolError("connection closed mid-message")
            try:
                self._ws.receive_data(data)
            except RemoteProtocolError as exc:
                raise ProtocolError(f"not a WebSocket frame: {exc}") from exc

    def _handle(self, event: object) -> str | bytes | None:
        """A finished message, "" for the service's close, or None (a fragment kept, a ping answered)."""
        if isinstance(event, TextMessage):
            self._text.append(event.data)
            if event.message_finished:
                text, self._text = "".join(self._text), []
                return text
        elif isinstance(event, BytesMessage):
            self._bytes.append(bytes(event.data))
            if event.message_finished:
                data, self._bytes = b"".join(self._bytes), []
                return data
        elif isinstance(event, Ping):
            self.sock.sendall(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self._reply_close(event)
            return ""
        return None

    def send(self, text: str) -> None:
        self.sock.sendall(self._ws.send(TextMessage(data=text)))

    def close(self, code: int = NORMAL_CLOSURE) -> None:
        """Send a close frame (once) and close the socket."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.sendall(self._ws.send(CloseConnection(code=code)))
        except (OSError, LocalProtocolError):
            pass  # the peer is gone already, or closed first
        self.sock.close()

    def _reply_close(self, event: CloseConnection) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.sendall(self._ws.send(event.response()))
        except (OSError, LocalProtocolError):
            pass
        self.sock.close()

    def abort(self) -> None:
        """From another thread: wake the reader blocked in recv() (it gets an error) without a close frame."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
