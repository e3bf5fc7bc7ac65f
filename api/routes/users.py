"""User accounts: list and create (admin), change a password (your own with the current password, admins
included; an admin or the local desktop client may reset another user's without it), disable or enable an
account and end all of a user's sessions (admin).

A password change, disabling and "revoke sessions" bump the user's token version: every access token of that
user ends at once, and their open WebSockets close with 4401 (docs/decisions.md "Sessions and secrets").

Password hashes never leave storage; hashing runs on gevent's thread pool (argon2 is slow on purpose).
"""

from __future__ import annotations

import logging
from typing import Any

from api.errors import ApiError, not_found
from api.plugins import Reply, Request
from api.roles import ADMINS, USERS
from api.routes.auth import _off_loop
from api.routing import ApiRoute
from api.schemas import PasswordChange, UserCreate, UserUpdate
from crm.service import Service
from crm.users import (
    NoSuchUser,
    UserConflict,
    UserError,
    change_password,
    create_user,
    revoke_sessions,
    set_user_active,
    verify_credentials,
)
from storage.users import get_user, list_users

log = logging.getLogger("crm_agent.users")

USER_SCHEMA = {"type": "object", "required": ["username", "role", "active"],
               "properties": {"username": {"type": "string"}, "role": {"enum": ["admin", "agent"]},
                              "active": {"type": "boolean"}, "last_login_at": {"type": ["string", "null"]},
                              "created_at": {"type": "string"}}}


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    return {"username": row["username"], "role": row["role"], "active": bool(row["active"]),
            "last_login_at": row.get("last_login_at"), "created_at": row["created_at"]}


def users(service: Service) -> dict[str, Any]:
    return {"items": [public_user(row) for row in list_users(service.db)]}


def add_user(request: Request, service: Service) -> Reply:
    body: UserCreate = request.body(UserCreate)
    try:
        create_user(service.db, service.clock, body.username, body.password, body.role, run_blocking=_off_loop)
    except UserError as exc:
        status, code = (409, "conflict") if "already exists" in str(exc) else (422, "validation_error")
        raise ApiError(status, code, str(exc), field="username" if status == 409 else None) from None
    log.info("user %r created (role %s) by %s", body.username, body.role, request.principal.subject)
    return Reply(public_user(get_user(service.db, body.username)), 201)


def set_password(request: Request, service: Service, name: str) -> dict[str, Any]:
    body: PasswordChange = request.body(PasswordChange)
    principal = request.principal
    own = principal.kind == "jwt" and principal.subject.casefold() == name.casefold()
    if not principal.is_admin and not own:
        raise ApiError(403, "forbidden", "you can change only your own password")
    if own:  # admins too: a stolen or borrowed session must not take the account over
        if body.current_password is None:
            raise ApiError(422, "validation_error", "current_password: required to change your own password",
                           field="current_password")
        locked_for = service.login_guard.retry_after(name)
        if locked_for:  # the same lockout as logins: a stolen token must not brute-force the password
            raise ApiError(429, "locked_out", f"too many wrong passwords; try again in {locked_for} s",
                           headers={"Retry-After": str(locked_for)})
        if verify_credentials(service.db, name, body.current_password, run_blocking=_off_loop) is None:
            service.login_guard.record_failure(name)
            raise ApiError(403, "wrong_password", "current_password is wrong", field="current_password")
    if get_user(service.db, name) is None:
        raise not_found("user")
    try:
        change_password(service.db, service.clock, name, body.password, run_blocking=_off_loop)
    except NoSuchUser:
        raise not_found("user") from None
    except UserError as exc:
        raise ApiError(422, "validation_error", str(exc), field="password") from None
    service.tokens.sessions_revoked()  # the user's tokens, the caller's own included, ended with the old password
    log.info("password of %r changed by %s; their sessions ended", name, principal.subject)
    return {"username": name, "changed": True}


def update_user(request: Request, service: Service, name: str) -> dict[str, Any]:
    body: UserUpdate = request.body(UserUpdate)
    principal = request.principal
    acting_user = principal.subject if principal.kind == "jwt" else None
    try:
        stored = set_user_active(service.db, service.clock, name, body.active, acting_user=acting_user)
    except NoSuchUser:
        raise not_found("user") from None
    except UserConflict as exc:
        raise ApiError(409, "conflict", str(exc), field="active") from None
    if not body.active:
        service.tokens.sessions_revoked()
    log.info("user %r %s by %s", stored, "enabled" if body.active else "disabled", principal.subject)
    return public_user(get_user(service.db, stored))


def end_sessions(request: Request, service: Service, name: str) -> dict[str, Any]:
    try:
        stored = revoke_sessions(service.db, service.clock, name)
    except NoSuchUser:
        raise not_found("user") from None
    service.tokens.sessions_revoked()
    log.info("sessions of %r revoked by %s", stored, request.principal.subject)
    return {"username": stored, "revoked": True}


ROUTES = (
    ApiRoute("GET", "/api/users", users, roles=ADMINS, tag="users", summary="List user accounts (admin)",
             response_schema={"type": "object", "properties": {"items": {"type": "array", "items": USER_SCHEMA}}}),
    ApiRoute("POST", "/api/users", add_user, roles=ADMINS, tag="users", body=UserCreate,
             summary="Create a user account (admin)",
             responses={201: "created", 409: "the username is taken", 422: "bad username or password"},
             response_schema=USER_SCHEMA),
    ApiRoute("PATCH", "/api/users/<name>", update_user, roles=ADMINS, tag="users", body=UserUpdate,
             summary="Disable or enable a user account (admin); disabling ends its sessions",
             responses={200: "updated", 404: "no such user",
                        409: "you cannot disable yourself or the last active admin", 422: "active must be a boolean"},
             response_schema=USER_SCHEMA),
    ApiRoute("DELETE", "/api/users/<name>/sessions", end_sessions, roles=ADMINS, tag="users",
             summary="End every session (access token) of a user (admin); they log in again",
             responses={200: "ended", 404: "no such user"},
             response_schema={"type": "object", "required": ["username", "revoked"],
                              "properties": {"username": {"type": "string"}, "revoked": {"const": True}}}),
    ApiRoute("PUT", "/api/users/<name>/password", set_password, tag="users", roles=USERS, body=PasswordChange,
             summary="Change a password (your own with current_password, admins included; an admin: "
                     "another user's without it)",
             responses={200: "changed", 403: "not allowed or wrong current password", 404: "no such user",
                        422: "password too short"}),
)
