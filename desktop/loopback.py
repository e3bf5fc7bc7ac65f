"""Plain HTTP/1.1 and WebSocket over a TCP socket, for the desktop processes talking to the local service.

Why not urllib/http.client and websocket-client: both import `ssl` when they are imported, whatever the URL
(~6 MB of libssl/libcrypto in every desktop process, measured for issue 17), and the tray and the windows
only ever talk to the service on 127.0.0.1 over plain http:// and ws://. This module does just that: one
request per connection (Connection: close), the answer's body by Content-Length, chunked or read to the end;
a client WebSocket (RFC 6455) that answers pings, sends masked frames and joins fragmented messages. An
https:// or wss:// URL is refused (ValueError): TLS is not something to add here by accident.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024  # status line + headers; the service's are a few hundred bytes
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


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


class _Reader:
    """Buffered reads from a socket: lines for the HTTP head, exact sizes for bodies and frames."""

    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        self.sock = sock
        self.buffer = buffered

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def head(self) -> bytes:
        """Everything up to and including the blank line that ends an HTTP head."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise ProtocolError("HTTP head too long")
            if not self._fill():
                raise ProtocolError("connection closed before the HTTP head ended")
        end = self.buffer.index(b"\r\n\r\n") + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD_BYTES or not self._fill():
                raise ProtocolError("bad chunked body")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ProtocolError("connection closed mid-message")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def to_end(self) -> bytes:
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("iso-8859-1").split("\r\n")
    fields = lines[0].split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise ProtocolError(f"not an HTTP answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(fields[1]), headers


def _read_body(reader: _Reader, headers: dict[str, str], method: str, status: int) -> bytes:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while size := int(reader.line().split(b";")[0].strip() or b"0", 16):
            parts.append(reader.exactly(size))
            reader.exactly(2)  # the CRLF after each chunk
        while reader.line():  # trailers, up to the final blank line
            pass
        return b"".join(parts)
    if "content-length" in headers:
        return reader.exactly(int(headers["content-length"]))
    return reader.to_end()  # Connection: close - the body ends with the connection


def http_request(url: str, method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """One HTTP request on a new connection: (status, body) for any status. Raises OSError (refused, reset,
    timed out, not HTTP) and ValueError (not an http:// URL)."""
    target = parse_url(url)
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}", "Connection: close",
             "Accept-Encoding: identity"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + (body or b"")
    with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
        sock.sendall(request)
        reader = _Reader(sock)
        status, answer_headers = _parse_head(reader.head())
        return status, _read_body(reader, answer_headers, method, status)


class WebSocket:
    """A client WebSocket on one socket. recv() gives the next text (str) or binary (bytes) message, "" once
    the service closed the connection; pings are answered on the way. One thread reads; close() and abort()
    may come from another."""

    def __init__(self, sock: socket.socket, buffered: bytes = b"") -> None:
        self.sock = sock
        self._reader = _Reader(sock, buffered)
        self.closed = False

    @classmethod
    def connect(cls, url: str, timeout: float = 5.0) -> WebSocket:
        """Open ws://host:port/path?query (no Origin header: the service's check is for browsers)."""
        target = parse_url(url, plain="ws")
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
        try:
            sock.sendall(request.encode("iso-8859-1"))
            reader = _Reader(sock)
            status, headers = _parse_head(reader.head())
            if status != 101:
                raise ProtocolError(f"WebSocket handshake refused: HTTP {status}")
            expected = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()  # noqa: S324
            if headers.get("sec-websocket-accept") != expected:
                raise ProtocolError("WebSocket handshake: wrong Sec-WebSocket-Accept")
        except BaseException:
            sock.close()
            raise
        return cls(sock, reader.buffer)

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def recv(self) -> str | bytes:
        fragments: list[bytes] = []
        kind = None
        while True:
            fin, opcode, payload = self._frame()
            if opcode == OP_PING:
                self._send(OP_PONG, payload)
            elif opcode == OP_PONG:
                continue
            elif opcode == OP_CLOSE:
                self.close(payload[:2] or struct.pack("!H", 1000))
                return ""
            else:
                if opcode != OP_CONTINUATION:
                    kind = opcode
                fragments.append(payload)
                if fin:
                    data = b"".join(fragments)
                    return data.decode("utf-8") if kind == OP_TEXT else data

    def send(self, text: str) -> None:
        self._send(OP_TEXT, text.encode("utf-8"))

    def close(self, reason: bytes = struct.pack("!H", 1000)) -> None:
        """Send a close frame (once) and close the socket."""
        if self.closed:
            return
        self.closed = True
        try:
            self._send(OP_CLOSE, reason)
        except OSError:
            pass  # the peer is gone already
        self.sock.close()

    def abort(self) -> None:
        """From another thread: wake the reader blocked in recv() (it gets an error) without a close frame."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _frame(self) -> tuple[bool, int, bytes]:
        first, second = self._reader.exactly(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._reader.exactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._reader.exactly(8))
        mask = self._reader.exactly(4) if second & 0x80 else b""
        payload = self._reader.exactly(size)
        return bool(first & 0x80), first & 0x0F, _masked(payload, mask) if mask else payload

    def _send(self, opcode: int, payload: bytes) -> None:
        # A client masks every frame it sends (RFC 6455 section 5.3).
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + _masked(payload, mask))


def _masked(payload: bytes, mask: bytes) -> bytes:
    """XOR payload with the 4-byte mask, as one big integer (fast enough for any message size we see)."""
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")
