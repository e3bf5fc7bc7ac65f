"""WS /ws: live events over WebSocket (wsproto on gevent's server).

The upgrade is accepted only after the same Host/Origin checks as HTTP and a valid token (?token=,
since browsers cannot set headers on a WebSocket); otherwise the request falls through to the normal
HTTP path, which answers 403/401 as JSON. Incoming messages are capped before they are buffered.
A client that reconnects with ?since=<last id> first receives the buffered events it missed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import orjson
from gevent.queue import Empty, Queue
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import generate_accept_token

from api.auth import InvalidToken
from api.plugins import bearer_token
from api.security import OriginPolicy, check_host_and_origin
from core import events
from core.clock import iso
from crm.service import Service

log = logging.getLogger("crm_agent.ws")

WS_PATH = "/ws"
SLOW_CLIENT_BACKLOG = 5000  # a client this far behind is dropped; it can resume with ?since=


def is_upgrade_request(environ: dict[str, Any]) -> bool:
    return (environ.get("PATH_INFO") == WS_PATH and environ.get("REQUEST_METHOD") == "GET"
            and environ.get("HTTP_UPGRADE", "").lower() == "websocket"
            and "upgrade" in environ.get("HTTP_CONNECTION", "").lower())


class WebSocketEndpoint:
    def __init__(self, service: Service, policy: OriginPolicy) -> None:
        self.service = service
        self.policy = policy
        self.max_message_bytes = service.config["websocket.max_message_bytes"]
        self.ping_interval_s = service.config["websocket.ping_interval_s"]
        self.max_clients = service.config["websocket.max_clients"]
        self.clients = 0
        self._sessions: set[_Session] = set()

    def close_all(self, code: int = 1001, reason: str = "service stopping") -> None:
        """Tell every client the service is going away (they reconnect later with ?since=)."""
        for session in list(self._sessions):
            session.outbox.put(("close", code, reason))

    def accepts(self, environ: dict[str, Any]) -> bool:
        """True when every check passes; otherwise the HTTP path produces the JSON error."""
        if not is_upgrade_request(environ) or check_host_and_origin(environ, self.policy):
            return False
        if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13" or not environ.get("HTTP_SEC_WEBSOCKET_KEY"):
            return False
        if self.clients >= self.max_clients:
            return False
        try:
            self.service.tokens.authenticate(bearer_token(environ, allow_query=True))
        except InvalidToken:
            return False
        return _since(environ) is not False

    def serve(self, environ: dict[str, Any], sock: Any) -> None:
        """Complete the handshake and run the session until either side closes."""
        started = time.perf_counter()
        key = environ["HTTP_SEC_WEBSOCKET_KEY"].encode("latin-1")
        handshake = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n\r\n")
        sock.sendall(handshake)
        self.clients += 1
        session = _Session(self, sock, _since(environ) or None)
        self._sessions.add(session)
        try:
            session.run()
        finally:
            self._sessions.discard(session)
            self.clients -= 1
            log.info("GET %s 101 %.1fms (websocket closed)", WS_PATH, (time.perf_counter() - started) * 1000)


def _since(environ: dict[str, Any]) -> int | None | bool:
    """The ?since= id, None when absent, False when malformed."""
    import urllib.parse

    values = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("since")
    if not values:
        return None
    try:
        value = int(values[0])
    except ValueError:
        return False
    return value if value >= 0 else False


class _Session:
    def __init__(self, endpoint: WebSocketEndpoint, sock: Any, since: int | None) -> None:
        self.endpoint = endpoint
        self.sock = sock
        self.since = since
        self.ws = Connection(ConnectionType.SERVER)
        self.outbox: Queue = Queue()
        self.closed = False

    def run(self) -> None:
        bus = self.endpoint.service.bus
        backlog, lost = bus.subscribe(self._enqueue_event, self.since)
        reader = gevent.spawn(self._read_loop)
        try:
            if lost:
                self._send_json({"type": events.EVENTS_LOST, "id": 0, "ts": iso(self.endpoint.service.clock.now()),
                                 "data": {"since": self.since, "oldest_available": bus.oldest_id}})
            for event in backlog:
                self._send_json(event)
            self._write_loop()
        except OSError:
            pass
        finally:
            bus.unsubscribe(self._enqueue_event)
            self.closed = True
            reader.kill(block=False)

    def _enqueue_event(self, event: dict[str, Any]) -> None:
        if self.outbox.qsize() > SLOW_CLIENT_BACKLOG:
            self.outbox.put(("close", 1008, "client too slow; reconnect with ?since="))
            return
        self.outbox.put(("event", event))

    def _write_loop(self) -> None:
        while not self.closed:
            try:
                item = self.outbox.get(timeout=self.endpoint.ping_interval_s)
            except Empty:
                self.sock.sendall(self.ws.send(Ping(b"keepalive")))
                continue
            kind = item[0]
            if kind == "event":
                self._send_json(item[1])
            elif kind == "raw":
                self.sock.sendall(item[1])
            elif kind == "close":
                self._close(item[1], item[2])
                return
            elif kind == "gone":
                return

    def _read_loop(self) -> None:
        message_size = 0
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, (TextMessage, BytesMessage)):
                        message_size += len(event.data)
                        if message_size > self.endpoint.max_message_bytes:
                            self.outbox.put(("close", 1009, "message too big"))
                            return
                        if event.message_finished:
                            message_size = 0
                    elif isinstance(event, Ping):
                        self.outbox.put(("raw", self.ws.send(event.response())))
                    elif isinstance(event, CloseConnection):
                        self.outbox.put(("raw", self.ws.send(event.response())))
                        self.outbox.put(("gone",))
                        return
                    elif isinstance(event, Pong):
                        pass
        except Exception as exc:  # noqa: BLE001 - a protocol error or reset ends this client only
            log.debug("websocket read ended: %s", exc)
        self.outbox.put(("gone",))

    def _send_json(self, event: dict[str, Any]) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=orjson.dumps(event).decode())))

    def _close(self, code: int, reason: str) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=code, reason=reason)))
        except Exception as exc:  # noqa: BLE001 - the peer may be gone already
            log.debug("close frame not sent: %s", exc)


