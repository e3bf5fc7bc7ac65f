"""WS /ws: live events over WebSocket (wsproto on gevent's server).

The upgrade is accepted only after the same Host/Origin checks as HTTP. A client then authenticates in
one of two ways: ?token= in the URL (the tray and windows), or, without ?token=, a first text message
{"type": "auth", "token": ..., "since": ...} within AUTH_TIMEOUT_S (the browser extension: URLs end up in
logs, and its token must never be in one). A bad ?token= falls through to the normal HTTP path, which
answers 401 as JSON; a bad first message closes with 4401. Incoming messages are capped before they are
buffered. A client that reconnects with since=<last id> first receives the buffered events it missed.

Each session remembers its principal and receives only the events meant for it: an extension receives its
panel's events only, and pairing codes go only to admin and local sessions.

Each session also keeps the token it authenticated with and checks it again every RECHECK_S seconds, and at
once when this process revoked tokens (logout, disable, password change, key rotation): a token revoked since
closes the session with 4401, also when the revocation was written to the database by another process (the
command line) or the token expired meanwhile.
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

from api.plugins import bearer_token
from api.roles import WEBSOCKET_SESSIONS
from api.security import OriginPolicy, check_host_and_origin
from core import events
from core.clock import iso
from crm.access import InvalidToken, Principal, extension_principal
from crm.service import Service

log = logging.getLogger("crm_agent.ws")

WS_PATH = "/ws"
SLOW_CLIENT_BACKLOG = 5000  # a client this far behind is dropped; it can resume with ?since=
AUTH_TIMEOUT_S = 10.0  # a socket without ?token= must authenticate in its first message within this
CLOSE_UNAUTHORIZED = 4401  # the WebSocket twin of HTTP 401 (4000-4999: application codes)
CLOSE_TOO_MANY = 4429  # the twin of HTTP 429: this token holds MAX_SESSIONS_PER_TOKEN sessions already
# Sessions one principal (a user, the local token, one extension) may hold at once: the tray, the windows and
# a few browser windows fit; one leaked or hostile token cannot take every one of websocket.max_clients.
MAX_SESSIONS_PER_TOKEN = 8
TOO_MANY_REASON = "too many connections for this token"
# How often an open session checks that its token still holds (one indexed query per session): the bound on how
# long a WebSocket outlives a revocation made by another process.
RECHECK_S = 2.0


def may_receive(principal: Principal, event_type: str) -> bool:
    """Least privilege on the event stream (docs/extension-protocol.md, "WebSocket")."""
    if principal.is_extension:
        return event_type in events.EXTENSION_EVENT_TYPES
    if event_type in events.PAIRING_EVENT_TYPES:
        return principal.is_admin  # they carry the pairing code
    return True


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
        self._per_principal: dict[str, int] = {}  # Principal.rate_key -> authenticated sessions
        service.tokens.on_revocation(self.recheck_all)

    def recheck_all(self) -> None:
        """Tokens were revoked in this process: every session checks its own now rather than at its next tick."""
        for session in list(self._sessions):
            session.outbox.put(("recheck",))

    def still_valid(self, token: str, principal: Principal) -> bool:
        """Whether the token a session authenticated with still gives it that principal."""
        if principal.is_extension:
            extension = self.service.extensions.for_token(token)
            return extension is not None and extension.active
        try:
            return self.service.tokens.authenticate(token) == principal
        except InvalidToken:
            return False

    def has_room_for(self, principal: Principal) -> bool:
        return self._per_principal.get(principal.rate_key, 0) < MAX_SESSIONS_PER_TOKEN

    def session_joined(self, principal: Principal) -> None:
        self._per_principal[principal.rate_key] = self._per_principal.get(principal.rate_key, 0) + 1

    def session_left(self, principal: Principal) -> None:
        left = self._per_principal.get(principal.rate_key, 0) - 1
        if left > 0:
            self._per_principal[principal.rate_key] = left
        else:
            self._per_principal.pop(principal.rate_key, None)

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
        if _since(environ) is False:
            return False
        return not _query_token(environ) or self.query_principal(environ) is not None

    def query_principal(self, environ: dict[str, Any]) -> Principal | None:
        """The principal of ?token= (an access or local token; an extension token never goes in a URL)."""
        try:
            principal = self.service.tokens.authenticate(bearer_token(environ, allow_query=True))
        except InvalidToken:
            return None
        return principal if principal.role in WEBSOCKET_SESSIONS else None

    def message_principal(self, token: Any, origin: str | None) -> tuple[Principal | None, str]:
        """The principal of a first-message token, or None and the close reason."""
        if not isinstance(token, str) or not token:
            return None, "authentication required"
        extension = self.service.extensions.for_token(token)
        if extension is not None:
            if not extension.active:
                return None, "revoked"
            if origin != extension.origin:
                return None, "origin_mismatch"
            principal = extension_principal(extension.id, extension.origin)
        else:
            try:
                principal = self.service.tokens.authenticate(token)
            except InvalidToken:
                return None, "invalid token"
        if principal.role not in WEBSOCKET_SESSIONS:  # the /ws route's declared session_roles
            return None, "forbidden"
        if principal.is_extension:
            self.service.extensions.seen(extension)
        return principal, ""

    def serve(self, environ: dict[str, Any], sock: Any) -> None:
        """Complete the handshake and run the session until either side closes."""
        started = time.perf_counter()
        key = environ["HTTP_SEC_WEBSOCKET_KEY"].encode("latin-1")
        handshake = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n\r\n")
        sock.sendall(handshake)
        self.clients += 1  # unauthenticated sockets count too: max_clients caps what a stranger can hold open
        token = bearer_token(environ, allow_query=True) if _query_token(environ) else ""
        principal = self.query_principal(environ) if token else None
        crowded = principal is not None and not self.has_room_for(principal)
        since = _since(environ)  # validated before the upgrade; 0 is a real id ("everything still buffered")
        session = _Session(self, sock, since if type(since) is int else None, None if crowded else principal,
                           environ.get("HTTP_ORIGIN"), token)
        if crowded:
            session.outbox.put(("close", CLOSE_TOO_MANY, TOO_MANY_REASON))
        self._sessions.add(session)
        try:
            session.run()
        finally:
            self._sessions.discard(session)
            session.set_principal(None)
            self.clients -= 1
            log.info("GET %s 101 %.1fms (websocket closed)", WS_PATH, (time.perf_counter() - started) * 1000)


def _query_token(environ: dict[str, Any]) -> bool:
    import urllib.parse

    return "token" in urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)


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
    def __init__(self, endpoint: WebSocketEndpoint, sock: Any, since: int | None, principal: Principal | None,
                 origin: str | None, token: str = "") -> None:
        self.endpoint = endpoint
        self.token = token  # what the principal was authenticated with: checked again while the session lasts
        self.sock = sock
        self.since = since
        self.origin = origin
        self.principal: Principal | None = None
        self.ws = Connection(ConnectionType.SERVER)
        self.outbox: Queue = Queue()
        self.closed = False
        self.set_principal(principal)

    def set_principal(self, principal: Principal | None) -> None:
        """Who this session is; local-token sessions are the desktop (tray, windows) being there."""
        service = self.endpoint.service
        if self.principal is not None:
            self.endpoint.session_left(self.principal)
            if self.principal.kind == "local":
                service.desktop_client_disconnected()
        self.principal = principal
        if principal is not None:
            self.endpoint.session_joined(principal)
            if principal.kind == "local":
                service.desktop_client_connected()

    def run(self) -> None:
        bus = self.endpoint.service.bus
        reader = gevent.spawn(self._read_loop)
        auth_timer = None
        try:
            if self.principal is None:
                auth_timer = gevent.spawn_later(AUTH_TIMEOUT_S, self.outbox.put, ("auth_timeout",))
            else:
                self._subscribe()
            self._write_loop()
        except OSError:
            pass
        finally:
            bus.unsubscribe(self._enqueue_event)
            self.closed = True
            reader.kill(block=False)
            if auth_timer is not None:
                auth_timer.kill(block=False)

    def _subscribe(self) -> None:
        """Start the event stream: first what the client missed since its last id, then live events."""
        service = self.endpoint.service
        backlog, lost = service.bus.subscribe(self._enqueue_event, self.since)
        if lost:
            self._send_json({"type": events.EVENTS_LOST, "id": 0, "ts": iso(service.clock.now()),
                             "data": {"since": self.since, "oldest_available": service.bus.oldest_id}})
        for event in backlog:
            if may_receive(self.principal, event["type"]):
                self._send_json(event)

    def _enqueue_event(self, event: dict[str, Any]) -> None:
        principal = self.principal
        if (event["type"] == events.EXTENSION_REVOKED and principal.is_extension
                and event["data"].get("id") == principal.extension_id):
            self.outbox.put(("close", CLOSE_UNAUTHORIZED, "revoked"))
            return
        if not may_receive(principal, event["type"]):
            return
        if self.outbox.qsize() > SLOW_CLIENT_BACKLOG:
            self.outbox.put(("close", 1008, "client too slow; reconnect with ?since="))
            return
        self.outbox.put(("event", event))

    def _write_loop(self) -> None:
        now = time.monotonic()
        next_ping, next_check = now + self.endpoint.ping_interval_s, now + RECHECK_S
        while not self.closed:
            try:
                item = self.outbox.get(timeout=max(0.0, min(next_ping, next_check) - time.monotonic()))
            except Empty:
                item = None
            now = time.monotonic()
            if item is None and now >= next_ping:
                self.sock.sendall(self.ws.send(Ping(b"keepalive")))
                next_ping = now + self.endpoint.ping_interval_s
            # On the timer even while events stream (a busy session is checked too), and at once when asked.
            if now >= next_check or (item is not None and item[0] == "recheck"):
                next_check = now + RECHECK_S
                if self.principal is not None and not self.endpoint.still_valid(self.token, self.principal):
                    self._close(CLOSE_UNAUTHORIZED, "token revoked")
                    return
            if item is None or item[0] == "recheck":
                continue
            kind = item[0]
            if kind == "event":
                self._send_json(item[1])
            elif kind == "text":
                if not self._on_text(item[1]):
                    return
            elif kind == "raw":
                self.sock.sendall(item[1])
            elif kind == "close":
                self._close(item[1], item[2])
                return
            elif kind == "auth_timeout":
                if self.principal is None:
                    self._close(CLOSE_UNAUTHORIZED, "authentication timeout")
                    return
            elif kind == "gone":
                return

    def _on_text(self, text: str | None) -> bool:
        """A complete message from the client (None: binary); False when the session must end."""
        try:
            message = orjson.loads(text) if text is not None else None
        except orjson.JSONDecodeError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if self.principal is None:
            return self._authenticate(message if kind == "auth" else None)
        if kind == "ping":
            self._send_json({"type": "pong"})
        return True  # anything else from an authenticated client is ignored, as before

    def _authenticate(self, message: dict[str, Any] | None) -> bool:
        since = message.get("since") if message else None
        if message is None or not (since is None or (type(since) is int and since >= 0)):
            self._close(CLOSE_UNAUTHORIZED, "authentication required")
            return False
        principal, reason = self.endpoint.message_principal(message.get("token"), self.origin)
        if principal is None:
            self._close(CLOSE_UNAUTHORIZED, reason)
            return False
        if not self.endpoint.has_room_for(principal):
            self._close(CLOSE_TOO_MANY, TOO_MANY_REASON)
            return False
        self.set_principal(principal)
        self.token = message["token"]
        self.since = since
        self._send_json({"type": "auth.ok", "id": 0, "ts": iso(self.endpoint.service.clock.now()),
                         "data": {"principal": principal.role}})
        self._subscribe()
        return True

    def _read_loop(self) -> None:
        message_size = 0
        parts: list[str] = []
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
                        if isinstance(event, TextMessage):
                            parts.append(event.data)
                        if event.message_finished:
                            message_size = 0
                            # A binary message is never a valid auth message: None makes it close then.
                            self.outbox.put(("text", "".join(parts) if parts else None))
                            parts = []
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
