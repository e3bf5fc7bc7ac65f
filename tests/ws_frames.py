"""A WebSocket client written by hand over a raw socket: a real handshake, then frames built byte by byte (any
header bits, length form, mask or payload), so tests can send what no well-behaved library would."""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from dataclasses import dataclass

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
DEFAULT_KEY = b"\x37\xfa\x21\x3d"


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bytes | None = DEFAULT_KEY,
          length_form: str = "minimal", length: int | None = None) -> bytes:
    """One frame. rsv: the three reserved bits (0-7); mask None: unmasked; length_form "minimal", "16" or "64"
    (the two longer forms are non-minimal, a protocol error, for short payloads); length: announce a length
    other than the payload's."""
    announced = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
    mask_bit = 0x80 if mask is not None else 0
    if length_form == "64" or (length_form == "minimal" and announced > 0xFFFF):
        head += bytes([mask_bit | 127]) + struct.pack("!Q", announced)
    elif length_form == "16" or (length_form == "minimal" and announced > 125):
        head += bytes([mask_bit | 126]) + struct.pack("!H", announced)
    else:
        head += bytes([mask_bit | announced])
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass
class Received:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if self.opcode == CLOSE and len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode("utf-8", "replace")


class RawWebSocket:
    def __init__(self, port: int, query: str = "", rcvbuf: int | None = None, timeout: float = 10.0,
                 headers: dict[str, str] | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, so the window the peer sees is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (f"GET /ws{'?' + query if query else ''} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n{extra}\r\n")
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"no handshake answer: {self.buffer!r}")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 101:
            self.sock.close()
            raise ConnectionError(f"upgrade refused: {head!r}")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, count: int) -> None:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk

    def _take(self, count: int) -> bytes:
        self._fill(count)
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self) -> Received:
        """The next frame from the server (servers never mask)."""
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        return Received(bool(first & 0x80), first & 0x0F, self._take(length))

    def receive_until_close(self, timeout: float = 10.0) -> tuple[Received | None, list[Received]]:
        """Frames until the server's close (None if the connection ended without one) and the ones before it."""
        self.sock.settimeout(timeout)
        before: list[Received] = []
        try:
            while True:
                received = self.receive()
                if received.opcode == CLOSE:
                    return received, before
                before.append(received)
        except (EOFError, ConnectionResetError):
            return None, before

    def ended(self, timeout: float = 10.0) -> bool:
        """True once the server has closed the TCP connection (EOF or reset) within timeout; reads past data."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return False

    def close(self) -> None:
        self.sock.close()
