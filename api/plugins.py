"""The one wrapper around every route: authentication, per-token rate limit, dependencies, JSON, errors.

Handlers are plain functions that name what they need as parameters: `request` (a Request), the URL's
wildcards, and the dependencies the plugin was given (`service`, `app`). They return data (dict/list) or
Reply and raise ApiError for failures. Anything else raised becomes a 500 with a reference id: the traceback
goes to the log, never to the client.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bottle
import orjson
from pydantic import BaseModel, ValidationError

from api.errors import ApiError
from api.roles import ANONYMOUS, SERVICE_ROLES, check_declaration
from crm.access import ADMIN, EXTENSION, HUB_AGENT, InvalidToken, Principal, TokenService, extension_principal
from crm.extensions import ExtensionRegistry
from crm.ratelimit import RateLimiter, retry_after_header

log = logging.getLogger("crm_agent.api")

MAX_ROW_ID = 2**63 - 1  # SQLite and PostgreSQL BIGINT
REQUEST = "request"  # the one parameter made anew for each request; every other dependency is made once
_WILDCARD = re.compile(r"<([a-zA-Z_][a-zA-Z_0-9]*)")  # the names in Bottle's <name> and <name:filter> syntax


@dataclass
class Reply:
    data: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Request:
    """What a handler may read about its request (no Bottle globals in handlers)."""

    def __init__(self, environ: dict[str, Any], principal: Principal | None) -> None:
        self.environ = environ
        self.principal = principal
        self._query: bottle.FormsDict | None = None  # parsed on first use: most POST handlers never ask

    def query(self, name: str, default: str | None = None) -> str | None:
        if self._query is None:
            self._query = bottle.BaseRequest(self.environ).query
        value = self._query.getunicode(name)
        return default if value is None or value == "" else value

    def query_int(self, name: str, default: int, minimum: int = 0, maximum: int = 10**9) -> int:
        raw = self.query(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(422, "validation_error", f"{name}: must be an integer", field=name) from None
        if not minimum <= value <= maximum:
            raise ApiError(422, "validation_error", f"{name}: must be between {minimum} and {maximum}", field=name)
        return value

    def json(self) -> Any:
        raw = self._body()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None

    def raw_body(self) -> bytes:
        """The body as bytes (a binary upload); the same 408/400 answers as json() for a body that does not arrive."""
        return self._body()

    def _body(self) -> bytes:
        """The whole body, or a 4xx that closes the connection: the server ends a body read at
        server.body_timeout_s (TimeoutError), and a client may close before sending all it announced."""
        length = int(self.environ.get("CONTENT_LENGTH") or 0)
        try:
            return self.environ["wsgi.input"].read(length)
        except TimeoutError:
            log.warning("%s %s: the request body (%d bytes announced) did not arrive in time; connection closed",
                        self.environ.get("REQUEST_METHOD"), self.environ.get("PATH_INFO"), length)
            raise ApiError(408, "request_timeout", "the request body did not arrive in time",
                           headers={"Connection": "close"}) from None
        except OSError:
            log.info("%s %s: the client closed before sending the %d-byte body it announced",
                     self.environ.get("REQUEST_METHOD"), self.environ.get("PATH_INFO"), length)
            raise ApiError(400, "incomplete_body", "the request body is shorter than its Content-Length",
                           headers={"Connection": "close"}) from None

    def body(self, model: type[BaseModel]) -> Any:
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(422, "validation_error", "body: must be a JSON object", field="body")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ApiError:
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        details.append({"field": location, "message": message})
    first = details[0]
    return ApiError(422, "validation_error", f"{first['field']}: {first['message']}", field=first["field"],
                    details=details)


def bearer_token(environ: dict[str, Any], allow_query: bool = False) -> str:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if allow_query:
        return bottle.BaseRequest(environ).query.getunicode("token") or ""
    return ""


class ApiPlugin:
    """Bottle plugin; route options: roles=frozenset (api/roles.py, required), openapi=RouteDoc (a body means
    JSON in), query_token=True (?token= accepted).

    Least privilege, from the route's declared roles only: a route open to ANONYMOUS reads no token; otherwise
    the token is identified by the issuers of the roles the route declares (the service's own tokens: JWTs,
    the local token, paired extensions; on a hub, its agents' tokens): a token none of them knows is 401, a
    known one whose role the route does not declare is 403. A paired browser extension's token also has to
    come with the Origin it was bound to at pairing (docs/extension-protocol.md).

    dependencies: what handlers may ask for by parameter name (like bottle-sqlite's `db`), besides `request`
    and the URL's wildcards. A handler asking for anything else fails when the plugin wraps it.
    """

    name = "crm_api"
    api = 2

    def __init__(self, tokens: TokenService, token_limiter: RateLimiter,
                 hub_auth: Callable[[str], Principal | None] | None = None,
                 extensions: ExtensionRegistry | None = None, dependencies: Mapping[str, Any] | None = None) -> None:
        """hub_auth(token): the hub agent holding it, None for an unknown token (always None off a hub); it may
        raise ApiError to say why a known token no longer works (revoked, replaced by a rotation)."""
        self.tokens = tokens
        self.extensions = extensions
        self.token_limiter = token_limiter
        self.hub_auth = hub_auth or (lambda token: None)
        self.dependencies = dict(dependencies or {})
        if REQUEST in self.dependencies:
            raise ValueError(f"{REQUEST!r} is made for each request; it cannot be a fixed dependency")

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        roles = route.config.get("roles")
        try:
            check_declaration(roles)
        except ValueError as exc:  # a route nobody declared roles for never serves a request
            raise ValueError(f"{route.method} {route.rule}: {exc}") from None
        doc = route.config.get("openapi")
        wants_json = route.method in ("POST", "PUT", "PATCH") and getattr(doc, "body", None) is not None
        allow_query_token = bool(route.config.get("query_token", False))
        fixed, wants_request = handler_arguments(callback, route.rule, self.dependencies)

        def wrapper(**url_args: Any) -> Any:
            environ = bottle.request.environ
            try:
                principal = self._authenticate(environ, roles, allow_query_token)
                if wants_json:
                    _require_json(environ)
                for value in url_args.values():
                    if isinstance(value, int) and not 1 <= value <= MAX_ROW_ID:
                        raise ApiError(404, "not_found", "no such id")  # also beyond SQLite's integer range
                if wants_request:
                    result = callback(request=Request(environ, principal), **fixed, **url_args)
                else:
                    result = callback(**fixed, **url_args)
                return _to_response(result)
            except ApiError as exc:
                return _error_response(exc)
            except Exception:
                reference = environ.get("crm.request_id", "?")
                log.exception("unhandled error in %s %s (request %s)", route.method, route.rule, reference)
                return _error_response(ApiError(500, "internal_error",
                                                f"internal error; reference {reference} in the agent log"))

        return wrapper

    def _authenticate(self, environ: dict[str, Any], roles: frozenset[str], allow_query: bool) -> Principal | None:
        """The caller, when the route's roles allow it; ApiError 401 (no or unknown token) or 403 otherwise."""
        if ANONYMOUS in roles:
            return None
        token = bearer_token(environ, allow_query)
        if not token:
            raise ApiError(401, "unauthorized", "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = self._identify(token, environ, roles)
        except InvalidToken as exc:
            raise ApiError(401, "unauthorized", str(exc),
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        wait = self.token_limiter.take(principal.rate_key)
        if wait:
            raise ApiError(429, "rate_limited", "too many requests for this token",
                           headers={"Retry-After": retry_after_header(wait)})
        if principal.role not in roles:
            raise ApiError(403, "forbidden", _refusal(principal.role, roles))
        environ["crm.principal"] = principal
        return principal

    def _identify(self, token: str, environ: dict[str, Any], roles: frozenset[str]) -> Principal:
        """Who holds this token, asking only the issuers of the roles the route declares; InvalidToken when
        none of them knows it."""
        if HUB_AGENT in roles:
            principal = self.hub_auth(token)
            if principal is not None:
                return principal
        if roles & SERVICE_ROLES:
            return self._extension(token, environ) or self.tokens.authenticate(token)
        raise InvalidToken("not a valid hub agent token")

    def _extension(self, token: str, environ: dict[str, Any]) -> Principal | None:
        """The extension holding this token (None for other tokens), after its revocation and Origin checks."""
        if self.extensions is None:
            return None
        extension = self.extensions.for_token(token)
        if extension is None:
            return None
        if not extension.active:
            raise ApiError(401, "extension_revoked", "this browser extension was revoked; pair it again",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        # The token alone is not enough: a copy of it used from a web page or another extension carries
        # another Origin (browsers set it; only local processes can forge it). Chromium and Firefox send no
        # Origin on an extension background's GET requests, so an absent Origin passes on reads; a web page
        # cannot send a token-bearing request without one (a custom Authorization header makes it CORS).
        origin = environ.get("HTTP_ORIGIN")
        if origin is None and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            pass
        elif origin != extension.origin:
            raise ApiError(403, "origin_mismatch", "this token must be used from the browser extension it was "
                           "paired with (its Origin)")
        self.extensions.seen(extension)
        return extension_principal(extension.id, extension.origin)


def _refusal(role: str, roles: frozenset[str]) -> str:
    """Why a known token is refused here, in the words the clients already know."""
    if role == EXTENSION:
        return "not allowed for a browser extension token"
    if ADMIN in roles:
        return "this action needs an admin account"
    return f"not allowed for this token's role ({role})"


def handler_arguments(handler: Callable, rule: str,
                      dependencies: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The dependencies a handler asks for by parameter name (passed on every call) and whether it asks for
    the request; ValueError when it asks for a name nobody provides or leaves a URL wildcard unnamed, so a
    wrong handler is found when its route is wrapped (at start-up), not at its first request."""
    wildcards = _WILDCARD.findall(rule)
    parameters = inspect.signature(handler).parameters
    where = f"{rule}: handler {handler.__name__}"
    fixed: dict[str, Any] = {}
    for name, parameter in parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            raise ValueError(f"{where}: {name} must be an ordinary parameter (they are passed by name)")
        if name in wildcards or name == REQUEST:
            continue
        if name not in dependencies:
            raise ValueError(f"{where} asks for {name!r}, which is neither {REQUEST!r}, a wildcard of the path "
                             f"nor a dependency ({', '.join(sorted(dependencies)) or 'none given'})")
        fixed[name] = dependencies[name]
    unnamed = [name for name in wildcards if name not in parameters]
    if unnamed:
        raise ValueError(f"{where} has no parameter for the path's {', '.join(unnamed)}")
    return fixed, REQUEST in parameters


def _require_json(environ: dict[str, Any]) -> None:
    content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> bottle.HTTPResponse:
    body = orjson.dumps(data)
    response = bottle.HTTPResponse(body=body, status=status)
    response.set_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        response.set_header(name, value)
    return response


def _to_response(result: Any) -> bottle.HTTPResponse:
    if isinstance(result, bottle.HTTPResponse):
        return result
    if isinstance(result, Reply):
        return json_response(result.data, result.status, result.headers)
    return json_response(result)


def _error_response(exc: ApiError) -> bottle.HTTPResponse:
    return json_response(exc.body(), exc.status, exc.headers)
