"""WS /ws: live events over WebSocket (wsproto on gevent's server).

The upgrade is accepted only after the same Host/Origin checks as HTTP. A client then authenticates in
one of two ways: ?token= in the URL (the tray and windows), or, without ?token=, a first text message
{"type": "auth", "token": ..., "since": ...} within AUTH_TIMEOUT_S (the browser extension: URLs end up in
logs, and its token must never be in one). A bad ?token= falls through to the normal HTTP path, which
answers 401 as JSON; a bad first message closes with 4401. Incoming messages are capped before they are
buffered. A client that reconnects with since=<last id> first receives the buffered events it missed.

Each session's outbox (what waits to be written to it) is capped in items and bytes: a client that stops
reading is dropped with 1008 and resumes with ?since=; when it does not read its close frame either, its
socket is shut after SLOW_CLIENT_GRACE_S. Frames that break RFC 6455 are closed with its codes (wsproto's
parser: 1002, 1007; our size cap: 1009).

Each session remembers its principal and receives only the events meant for it: an extension receives its
panel's events only, and pairing codes go only to admin and local sessions.

Each session also keeps the token it authenticated with and checks it again every RECHECK_S seconds, and at
once when this process revoked tokens (logout, disable, password change, key rotation): a token revoked since
closes the session with 4401, also when the revocation was written to the database by another process (the
command line) or the token expired meanwhile.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import gevent
import orjson
from gevent.queue import Empty, Queue
from wsproto import ConnectionType
from wsproto.connection import Connection, ConnectionState
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
# A client whose outbox passes websocket.outbox_max_events or outbox_max_bytes is dropped with this code (RFC
# 6455 "policy violation"; any close but 4401 makes our clients reconnect with ?since=, the missed events replayed).
CLOSE_TOO_SLOW = 1008
TOO_SLOW_REASON = "client too slow; reconnect with ?since="
# After the drop, the close frame waits behind the frame the client is not reading; past this the socket is shut,
# so a client that never reads again holds no greenlet, socket or slot.
SLOW_CLIENT_GRACE_S = 5.0
# The kernel's send buffer of a WebSocket (Linux doubles it): fixed, so it no longer grows to tcp_wmem's maximum
# (4 MiB) under a client that does not read; outbox and socket together then hold a known amount per client.
SEND_BUFFER_BYTES = 256 * 1024
CLOSE_TOO_BIG = 1009
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
    if event_type in events.REPLY_DRAFT_EVENT_TYPES:
        return True  # its audience decides (addressed_to): a draft goes only to the principal that asked
    if principal.is_extension:
        return event_type in events.EXTENSION_EVENT_TYPES
    if event_type in events.PAIRING_EVENT_TYPES:
        return principal.is_admin  # they carry the pairing code
    return True


def addressed_to(principal: Principal, event: dict[str, Any]) -> bool:
    """An event with an audience (a reply draft) goes only to that principal's sessions; the others to anyone
    may_receive allows."""
    audience = event.get(events.AUDIENCE)
    return (audience is None or audience == principal.rate_key) and may_receive(principal, event["type"])


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
        self.outbox_max_events = service.config["websocket.outbox_max_events"]
        self.outbox_max_bytes = service.config["websocket.outbox_max_bytes"]
        self.clients = 0
        self._sessions: set[_Session] = set()
        self._per_principal: dict[str, int] = {}  # Principal.rate_key -> authenticated sessions
        service.tokens.on_revocation(self.recheck_all)

    def recheck_all(self) -> None:
        """Tokens were revoked in this process: every session checks its own now rather than at its next tick."""
        for session in list(self._sessions):
            session.outbox.put_control(("recheck",))

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
            session.outbox.put_control(("close", code, reason))

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
        _set_send_buffer(sock)
        self.clients += 1  # unauthenticated sockets count too: max_clients caps what a stranger can hold open
        token = bearer_token(environ, allow_query=True) if _query_token(environ) else ""
        principal = self.query_principal(environ) if token else None
        crowded = principal is not None and not self.has_room_for(principal)
        since = _since(environ)  # validated before the upgrade; 0 is a real id ("everything still buffered")
        session = _Session(self, sock, since if type(since) is int else None, None if crowded else principal,
                           environ.get("HTTP_ORIGIN"), token)
        if crowded:
            session.outbox.put_control(("close", CLOSE_TOO_MANY, TOO_MANY_REASON))
        self._sessions.add(session)
        try:
            session.run()
        finally:
            self._sessions.discard(session)
            session.set_principal(None)
            self.clients -= 1
            log.info("GET %s 101 %.1fms (websocket closed)", WS_PATH, (time.perf_counter() - started) * 1000)


def _set_send_buffer(sock: Any) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    except OSError as exc:  # not every platform allows it; the outbox cap still holds
        log.debug("SO_SNDBUF not set: %s", exc)


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


def _payload_bytes(event: TextMessage | BytesMessage) -> int:
    return len(event.data.encode()) if isinstance(event, TextMessage) else len(event.data)


def _announced_remainder(ws: Connection) -> int:
    """Payload bytes the data frame being received still announces (0 between frames).

    wsproto hands a frame's payload over as it arrives and does not expose the length its header announced, so
    this reads its frame decoder (pinned wsproto 1.x; tests/test_websocket_frames.py "frame announcing 1 TiB"
    fails if that changes).
    """
    decoder = getattr(getattr(ws, "_proto", None), "_frame_decoder", None)
    header = getattr(decoder, "header", None)
    if header is None or header.opcode.iscontrol():
        return 0
    return header.payload_len - decoder.payload_consumed


class Outbox:
    """What waits to be written to one client, in order, capped in items and bytes.

    Data items (events, answers, pongs) count against the caps; control items (close, gone, the auth
    timeout) do not, so a drop can always be queued. The writer is the only reader of it.
    """

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.items = 0
        self.bytes = 0
        self._queue: Queue = Queue()

    def put_data(self, kind: str, payload: Any, size: int) -> bool:
        """Queue a data item; False (nothing queued) when it would pass a cap."""
        if self.items + 1 > self.max_items or self.bytes + size > self.max_bytes:
            return False
        self.items += 1
        self.bytes += size
        self._queue.put((kind, payload, size))
        return True

    def put_control(self, item: tuple[Any, ...]) -> None:
        self._queue.put(item)

    def get(self, timeout: float) -> tuple[Any, ...]:
        """The next item (raises Empty after timeout)."""
        item = self._queue.get(timeout=timeout)
        if item[0] in _DATA_KINDS:
            self.items -= 1
            self.bytes -= item[2]
        return item

    def clear(self) -> None:
        """Forget every queued item: a dropped client gets its close next, and its backlog is freed."""
        while True:
            try:
                self._queue.get_nowait()
            except Empty:
                break
        self.items = 0
        self.bytes = 0


_DATA_KINDS = frozenset(("event", "text", "pong"))
_FRAME_OVERHEAD = 16  # bytes an outbox item costs beyond its payload, roughly: a flood of empty pings counts too


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
        self.outbox = Outbox(endpoint.outbox_max_events, endpoint.outbox_max_bytes)
        self.closed = False
        self.dropped = False  # past the outbox cap: nothing more is queued, the close is on its way
        self._shut_timer: gevent.Greenlet | None = None
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
                auth_timer = gevent.spawn_later(AUTH_TIMEOUT_S, self.outbox.put_control, ("auth_timeout",))
            else:
                self._subscribe()
            self._write_loop()
        except OSError:
            pass
        finally:
            bus.unsubscribe(self._enqueue_event)
            self.closed = True
            reader.kill(block=False)
            for timer in (auth_timer, self._shut_timer):
                if timer is not None:
                    timer.kill(block=False)

    def _subscribe(self) -> None:
        """Start the event stream: first what the client missed since its last id, then live events."""
        service = self.endpoint.service
        backlog, lost = service.bus.subscribe(self._enqueue_event, self.since)
        if lost:
            self._send_json({"type": events.EVENTS_LOST, "id": 0, "ts": iso(service.clock.now()),
                             "data": {"since": self.since, "oldest_available": service.bus.oldest_id}})
        for event in backlog:
            if addressed_to(self.principal, event):
                self._send_json(events.public_event(event))

    def _enqueue_event(self, event: dict[str, Any]) -> None:
        principal = self.principal
        if (event["type"] == events.EXTENSION_REVOKED and principal.is_extension
                and event["data"].get("id") == principal.extension_id):
            self.outbox.put_control(("close", CLOSE_UNAUTHORIZED, "revoked"))
            return
        if self.dropped or not addressed_to(principal, event):
            return
        # Serialised here, once per session: the bytes counted are the bytes held.
        payload = orjson.dumps(events.public_event(event))
        self._queue("event", payload, len(payload))

    def _queue(self, kind: str, payload: Any, size: int) -> bool:
        """Queue a data item for the writer; past the outbox cap, drop the client instead (False)."""
        if self.dropped:
            return False
        if self.outbox.put_data(kind, payload, size):
            return True
        self._drop_too_slow()
        return False

    def _drop_too_slow(self) -> None:
        """Free the backlog and queue the close."""
        self.dropped = True
        log.info("websocket client dropped: outbox past %d items or %d bytes", self.outbox.max_items,
                 self.outbox.max_bytes)
        self.outbox.clear()
        self._closing(CLOSE_TOO_SLOW, TOO_SLOW_REASON)

    def _closing(self, code: int, reason: str) -> None:
        """Queue our close frame; shut the socket if even that cannot be written in time."""
        self.outbox.put_control(("close", code, reason))
        if self._shut_timer is None:
            self._shut_timer = gevent.spawn_later(SLOW_CLIENT_GRACE_S, self._shut_socket)

    def _shut_socket(self) -> None:
        # The writer may be blocked in sendall on a client that reads nothing: shutdown wakes it with an error.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

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
                self._send(Ping(b"keepalive"))
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
                self._send(TextMessage(data=item[1].decode()))
            elif kind == "text":
                if not self._on_text(item[1]):
                    return
            elif kind == "pong":
                self._send(Pong(item[1]))
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
            while not self.dropped:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, (TextMessage, BytesMessage)):
                        message_size += _payload_bytes(event)
                        if message_size > self.endpoint.max_message_bytes:
                            self._closing(CLOSE_TOO_BIG, "message too big")
                            return
                        if isinstance(event, TextMessage):
                            parts.append(event.data)
                        if event.message_finished:
                            # A binary message is never a valid auth message: None makes it close then.
                            text = "".join(parts) if parts else None
                            if not self._queue("text", text, message_size):
                                return
                            message_size = 0
                            parts = []
                    elif isinstance(event, Ping):
                        if not self._queue("pong", event.payload, len(event.payload) + _FRAME_OVERHEAD):
                            return
                    elif isinstance(event, CloseConnection):
                        # The client's close (echoed), or wsproto's parser refusing a frame (1002, 1007).
                        self._closing(event.code, event.reason or "")
                        return
                    elif isinstance(event, Pong):
                        pass
                if message_size + _announced_remainder(self.ws) > self.endpoint.max_message_bytes:
                    self._closing(CLOSE_TOO_BIG, "message too big")  # said by the frame's header: no need to wait
                    return
        except Exception as exc:  # noqa: BLE001 - a protocol error or reset ends this client only
            log.debug("websocket read ended: %s", exc)
        self.outbox.put_control(("gone",))

    def _send_json(self, event: dict[str, Any]) -> None:
        self._send(TextMessage(data=orjson.dumps(event).decode()))

    def _send(self, event: TextMessage | Ping | Pong) -> None:
        """Write one frame. Once either side has sent its close, nothing but our close may follow (RFC 6455
        5.5.1): wsproto would raise, so what was still queued is dropped instead."""
        if self.ws.state is ConnectionState.OPEN:
            self.sock.sendall(self.ws.send(event))

    def _close(self, code: int, reason: str) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=code, reason=reason)))
        except Exception as exc:  # noqa: BLE001 - the peer may be gone already
            log.debug("close frame not sent: %s", exc)
