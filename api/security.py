"""The WSGI layer every request crosses before routing: Host and Origin checks (DNS rebinding, CORS),
preflights, body-size limits, per-client rate limits, security headers and the one-line request log.

It wraps the whole Bottle app, so unknown paths and the WebSocket endpoint get the same protection.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from api.errors import error_body
from crm.extensions import is_extension_origin
from crm.knowledge import IMPORT_MAX_BYTES
from crm.ratelimit import RateLimiter, retry_after_header
from storage.hub_backups import PART_BYTES as HUB_BACKUP_PART_BYTES

log = logging.getLogger("crm_agent.http")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-Id"
EXPOSED_HEADERS = "Retry-After, X-Request-Id"
# What any browser extension may call before it is paired (docs/extension-protocol.md, "Origins").
OPEN_TO_EXTENSIONS = frozenset({("GET", "/api/health"), ("POST", "/api/pair/start"), ("POST", "/api/pair/complete")})
# Paths allowed a larger body than server.max_body_bytes: a batch of 500 captures of up to 64 KiB text each.
# A knowledge CSV import: crm/knowledge.py IMPORT_MAX_BYTES (its rows are capped there too).
BODY_LIMIT_BY_PATH = {"/api/messages/capture/batch": 8 * 1024 * 1024, "/api/knowledge/import": IMPORT_MAX_BYTES}
# Path prefixes allowed a larger body: one part of an off-site backup upload to a hub (api/routes/offsite.py).
BODY_LIMIT_BY_PREFIX = (("/api/sync/backups/", HUB_BACKUP_PART_BYTES + 1024),)


class OriginPolicy:
    """Which Host headers and which browser Origins may talk to this service.

    Configured origins may call everything (their tokens decide the rest). Any other browser extension may
    call only OPEN_TO_EXTENSIONS until it is paired; paired_origin(origin) says whether it is now.
    """

    def __init__(self, allowed_origins: Iterable[str], extra_hosts: Iterable[str] = (),
                 paired_origin: Callable[[str], bool] | None = None,
                 revoked_token: Callable[[str, str], bool] | None = None) -> None:
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.paired_origin = paired_origin or (lambda origin: False)
        self.revoked_token = revoked_token or (lambda token, origin: False)
        self.host_names = frozenset(h.lower() for h in (*LOOPBACK_NAMES, *extra_hosts))
        self.port: int | None = None  # set once the server is bound (port 0 picks one)

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header or self.port is None:
            return False
        parts = _split_host(host_header.strip().lower())
        if parts is None:
            return False
        name, port = parts
        if port is None:
            port = "80"
        return port.isdigit() and int(port) == self.port and name in self.host_names

    def origin_allowed(self, origin: str, method: str = "", path: str = "") -> bool:
        raw = origin.rstrip("/")
        origin = raw.lower()
        if origin in self.allowed_origins:
            return True
        if is_extension_origin(raw):
            return self.paired_origin(raw) or (method, path) in OPEN_TO_EXTENSIONS
        # The service's own origin (no page is served there, but local tools send it, e.g. WebSocket clients).
        scheme, _, host = origin.partition("://")
        return scheme == "http" and self.host_allowed(host)


def revoked_extension_request(environ: dict[str, Any], policy: OriginPolicy) -> bool:
    """A refused extension Origin that holds its own revoked token: it must learn it was revoked (401
    extension_revoked, and the extension asks the user to pair again), not that its Origin is unknown."""
    origin = environ.get("HTTP_ORIGIN")
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return (is_extension_origin(origin) and scheme.lower() == "bearer" and bool(token.strip())
            and policy.revoked_token(token.strip(), origin))


def check_host_and_origin(environ: dict[str, Any], policy: OriginPolicy) -> tuple[str, str] | None:
    """(code, message) when the request must be refused with 403, else None. Shared with the WebSocket gate."""
    if not policy.host_allowed(environ.get("HTTP_HOST")):
        return "forbidden_host", "Host header not allowed (only local names and this port are served)"
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and not policy.origin_allowed(origin, *_method_and_path(environ)):
        return "forbidden_origin", "Origin not allowed"
    return None


def _method_and_path(environ: dict[str, Any]) -> tuple[str, str]:
    """A preflight is judged by the request it announces."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "OPTIONS":
        method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "OPTIONS").upper()
    return method, environ.get("PATH_INFO", "")


class SecurityMiddleware:
    def __init__(self, app: Callable, policy: OriginPolicy, *, max_body_bytes: int,
                 client_limiter: RateLimiter, request_log: bool = True) -> None:
        self.app = app
        self.policy = policy
        self.max_body_bytes = max_body_bytes
        self.client_limiter = client_limiter
        self.request_log = request_log
        # Request ids: unique per process run, cheaper than uuid4 on every request.
        self._boot_id = uuid.uuid4().hex[:8]
        self._request_numbers = itertools.count(1)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = f"{self._boot_id}-{next(self._request_numbers):x}"
        environ["crm.request_id"] = request_id
        status_holder: list[str] = ["000"]
        origin = environ.get("HTTP_ORIGIN")
        cors_origin = (origin if origin is not None and self.policy.origin_allowed(origin, *_method_and_path(environ))
                       else None)

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            status_holder[0] = status[:3]
            headers = [h for h in headers if h[0].lower() != "server"]
            headers += [("X-Request-Id", request_id), ("X-Content-Type-Options", "nosniff"),
                        ("Cache-Control", "no-store"), ("Vary", "Origin")]
            if cors_origin:
                headers += [("Access-Control-Allow-Origin", cors_origin),
                            ("Access-Control-Expose-Headers", EXPOSED_HEADERS)]
            return start_response(status, headers, exc_info)

        try:
            return self._dispatch(environ, respond, cors_origin)
        finally:
            if self.request_log:
                elapsed_ms = (time.perf_counter() - started) * 1000
                # Path only: query strings may carry tokens (?token= on the WebSocket).
                log.info("%s %s %s %.1fms", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                         status_holder[0], elapsed_ms)

    def _dispatch(self, environ: dict[str, Any], respond: Callable, cors_origin: str | None) -> Iterable[bytes]:
        refused = check_host_and_origin(environ, self.policy)
        if refused and refused[0] == "forbidden_origin" and revoked_extension_request(environ, self.policy):
            return _json_error(respond, "401 Unauthorized", "extension_revoked",
                               "this browser extension was revoked; pair it again")
        if refused:
            return _json_error(respond, "403 Forbidden", *refused)
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return self._preflight(environ, respond, cors_origin)
        wait = self.client_limiter.take(_client_key(environ))
        if wait:
            return _json_error(respond, "429 Too Many Requests", "rate_limited", "too many requests from this client",
                               headers=[("Retry-After", retry_after_header(wait))])
        if method in ("POST", "PUT", "PATCH"):
            length = environ.get("CONTENT_LENGTH")
            if environ.get("HTTP_TRANSFER_ENCODING") or length is None:
                return _json_error(respond, "411 Length Required", "length_required",
                                       "request bodies must carry Content-Length")
            try:
                size = int(length or 0)
            except ValueError:
                return _json_error(respond, "400 Bad Request", "bad_request", "invalid Content-Length")
            limit = body_limit(environ.get("PATH_INFO", ""), self.max_body_bytes)
            if size > limit:
                return _json_error(respond, "413 Payload Too Large", "payload_too_large",
                                   f"request body is larger than {limit} bytes")
        return self.app(environ, respond)

    def _preflight(self, environ: dict[str, Any], respond: Callable, cors_origin: str | None) -> Iterable[bytes]:
        if cors_origin is None:
            # A preflight without an allowed Origin gets no CORS headers: the browser blocks the request.
            return _json_error(respond, "403 Forbidden", "forbidden_origin", "Origin not allowed")
        headers = [("Access-Control-Allow-Methods", ALLOWED_METHODS),
                   ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
                   ("Access-Control-Max-Age", "600"), ("Content-Length", "0")]
        if environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "").lower() == "true":
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        respond("204 No Content", headers)
        return [b""]


def body_limit(path: str, default: int) -> int:
    """The largest body a request to this path may carry."""
    limit = max(default, BODY_LIMIT_BY_PATH.get(path, 0))
    for prefix, prefix_limit in BODY_LIMIT_BY_PREFIX:
        if path.startswith(prefix):
            limit = max(limit, prefix_limit)
    return limit


def _split_host(host: str) -> tuple[str, str | None] | None:
    """'name:port' or '[v6]:port' -> (name, port or None); None when malformed."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[: end + 1], host[end + 1 :]
        if not rest:
            return name, None
        return (name, rest[1:]) if rest.startswith(":") else None
    if host.count(":") > 1:
        return None
    name, sep, port = host.partition(":")
    return name, (port if sep else None)


def _client_key(environ: dict[str, Any]) -> str:
    # Every caller is local, so the address alone cannot tell clients apart; the Origin can.
    return f"{environ.get('REMOTE_ADDR', '?')}|{environ.get('HTTP_ORIGIN', '-')}"


def peer_key(environ: dict[str, Any]) -> str:
    """The client as the network sees it, never a header it chose: its address, and every loopback address
    (127.0.0.0/8, ::1, ::ffff:127.x) as the one local client, since any local process can pick among them."""
    address = str(environ.get("REMOTE_ADDR") or "?").lower()
    mapped = address.removeprefix("::ffff:")
    if mapped.startswith("127.") or address == "::1":
        return "peer:loopback"
    return f"peer:{address}"


def _json_error(respond: Callable, status: str, code: str, message: str,
                headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = error_body(code, message)
    respond(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]
