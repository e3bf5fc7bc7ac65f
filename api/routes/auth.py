"""POST /api/auth/login, POST /api/auth/logout and GET /api/auth/me."""

from __future__ import annotations

import logging
from typing import Any

import gevent

from api.errors import ApiError
from api.plugins import Request
from api.roles import PUBLIC, USERS
from api.routing import ApiRoute
from api.schemas import LoginRequest
from api.security import peer_key
from core.clock import iso
from crm.ratelimit import retry_after_header
from crm.service import Service
from crm.users import end_token, verify_credentials
from storage.users import get_user, record_login

log = logging.getLogger("crm_agent.auth")


def _off_loop(fn, *args):  # noqa: ANN001
    """argon2 is slow on purpose; run it on gevent's thread pool so other requests keep flowing."""
    return gevent.get_hub().threadpool.apply(fn, args)


def login(request: Request, service: Service) -> dict[str, Any]:
    # Keyed on the peer (all local clients are one) and then on the username: never on a header such as
    # Origin, whose spellings would each get a bucket of their own.
    _throttle(service, peer_key(request.environ))
    body: LoginRequest = request.body(LoginRequest)
    _throttle(service, "user:" + body.username.casefold())
    locked_for = service.login_guard.retry_after(body.username)
    if locked_for:
        raise ApiError(429, "locked_out", f"too many failed logins; try again in {locked_for} s",
                       headers={"Retry-After": str(locked_for)})
    user = verify_credentials(service.db, body.username, body.password, run_blocking=_off_loop)
    if user is None:
        retry_after = service.login_guard.record_failure(body.username)
        # A password typed into the username field must not reach the log: only known names are logged.
        known = get_user(service.db, body.username)
        who = (f"user {body.username!r}{'' if known['active'] else ' (disabled)'}" if known is not None
               else f"an unknown user ({len(body.username)} characters)")
        log.warning("failed login for %s%s", who, f"; locked for {retry_after} s" if retry_after else "")
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    service.login_guard.record_success(body.username)
    with service.db.transaction():
        record_login(service.db, user["username"], iso(service.clock.now()))
    token = service.tokens.issue(user["username"], user["role"], int(user["token_version"]))
    return {"access_token": token, "token_type": "bearer", "expires_in": service.tokens.expiry_s,
            "role": user["role"]}


def _throttle(service: Service, key: str) -> None:
    wait = service.login_limiter.take(key)
    if wait:
        raise ApiError(429, "rate_limited", "too many login attempts; slow down",
                       headers={"Retry-After": retry_after_header(wait)})


def logout(request: Request, service: Service) -> dict[str, Any]:
    """End the calling access token (other sessions of the user stay). The local token and an extension's token
    are not sessions: they are ended by rotating or revoking them."""
    principal = request.principal
    if principal.kind != "jwt":
        raise ApiError(400, "not_a_session", "only an access token from /api/auth/login can log out")
    end_token(service.db, service.clock, principal.token_id, principal.expires_at)
    service.tokens.sessions_revoked()
    log.info("user %r logged out", principal.subject)
    return {"logged_out": True}


def me(request: Request) -> dict[str, Any]:
    p = request.principal
    return {"subject": p.subject, "role": p.role, "kind": p.kind}


ROUTES = (
    ApiRoute("POST", "/api/auth/login", login, roles=PUBLIC, tag="auth", body=LoginRequest,
             summary="Exchange a username and password for an access token",
             responses={200: "token", 401: "wrong credentials", 429: "rate limited or locked out"},
             response_schema={"type": "object", "required": ["access_token", "token_type", "expires_in"],
                              "properties": {"access_token": {"type": "string"},
                                             "token_type": {"const": "bearer"},
                                             "expires_in": {"type": "integer"}}}),
    ApiRoute("POST", "/api/auth/logout", logout, tag="auth", roles=USERS,
             summary="End the calling access token (its WebSockets close with 4401)",
             responses={200: "logged out", 400: "the local token or an extension token: not a session",
                        401: "no valid token"},
             response_schema={"type": "object", "required": ["logged_out"],
                              "properties": {"logged_out": {"const": True}}}),
    ApiRoute("GET", "/api/auth/me", me, tag="auth", roles=USERS, summary="Who the token belongs to"),
)
