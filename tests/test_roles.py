"""Least privilege: every route declares the roles that may call it (api/roles.py), ApiPlugin enforces that
declaration, and the served OpenAPI document publishes it (x-roles). The walk below takes the document of a
real running service (and of a real hub for the hub routes) and calls every operation with a real token of
every role: an allowed role is never refused for auth reasons, a refused role always is (401/403 with a
JSON error), and nothing answers 5xx."""

from __future__ import annotations

import json
from typing import Any

import bottle
import pytest
import requests
import websocket

from api.plugins import ApiPlugin
from api.roles import ANONYMOUS, PUBLIC, USERS
from api.routing import ApiRoute
from core.clock import FakeClock
from crm.access import ROLES, TokenService
from crm.ratelimit import RateLimiter
from tests.helpers import RunningService, start_service
from tests.pairing_helpers import ORIGIN, pair
from tests.sync_helpers import add_agent, start_hub

NO_TOKEN = "no token"
# The error codes ApiPlugin answers for a token or role it refuses (the handlers' own refusals, such as
# pairing's forbidden_origin or a wrong current_password, are not auth decisions about the token's role).
AUTH_CODES = {"unauthorized", "forbidden", "origin_mismatch", "extension_revoked", "agent_revoked",
              "agent_token_replaced"}
# Values for the path's wildcards that pass routing and then find nothing, so destructive operations
# (DELETE /api/extensions/{id} above all: it would revoke the walk's own extension) change nothing.
PATH_VALUES = {"id": "999999", "extension_id": "999999", "phone": "+5511900000000", "name": "nobody-here",
               "pairing_id": "no-such-pairing", "part": "1"}
# Operations that end the calling access token (logout) or every one (a key rotation): after each call the
# walk logs its users in again, so later operations still meet valid tokens.
SESSION_ENDING = {("post", "/api/auth/logout"), ("post", "/api/security/rotate-keys")}
RELAXED_LIMITS = {"security": {"rate_limit_per_s": 100_000.0, "rate_limit_burst": 100_000,
                               "login_rate_per_min": 10_000.0}}


# -- the declaration ---------------------------------------------------------------------------------------

def test_a_route_cannot_be_declared_without_roles():
    with pytest.raises(TypeError, match="roles"):
        ApiRoute("GET", "/x", lambda: None, summary="x", tag="x")  # type: ignore[call-arg]
    for bad in (frozenset(), frozenset({"root"}), {"admin"}, PUBLIC | {"admin"}):
        with pytest.raises(ValueError, match="/x"):
            ApiRoute("GET", "/x", lambda: None, summary="x", tag="x", roles=bad)  # type: ignore[arg-type]


def test_the_plugin_refuses_to_serve_a_route_nobody_declared_roles_for():
    clock = FakeClock()
    app = bottle.Bottle()
    app.install(ApiPlugin(TokenService("s" * 64, 600, "local-token", clock), RateLimiter(clock, 100, 100)))
    app.route("/undeclared", "GET", lambda: {"ok": True})
    with pytest.raises(ValueError, match="/undeclared"):
        app.routes[0].prepare()  # create_app prepares every route: the service would not start


def test_every_served_route_declares_roles_and_the_document_publishes_them(tmp_path):
    from api.app import create_app
    from api.openapi import openapi_path
    from api.routes import ROUTES
    from core.config import load_config
    from core.paths import DataDir
    from runtime.build import build_service

    service = build_service(load_config(None), DataDir(tmp_path))
    try:
        wsgi, _ = create_app(service)  # prepares every route: an undeclared one raises here
        served = {(r.method, openapi_path(r.rule)): r.config.get("roles") for r in wsgi.app.routes}
    finally:
        service.close()
    declared = {(r.method, openapi_path(r.path)): r.roles for r in ROUTES}
    assert served == declared and all(served.values())
    from api.reference import current_document

    document = current_document()
    published = {(method.upper(), path): frozenset(op["x-roles"]) for path, ops in document["paths"].items()
                 for method, op in ops.items()}
    assert published == declared
    for path, ops in document["paths"].items():
        for op in ops.values():
            assert ("security" in op) == (ANONYMOUS not in op["x-roles"]), path
            assert op.get("x-extension-token", False) == ("extension" in op["x-roles"]), path
    # What a reviewer expects of the sets: the extension never reaches settings, users, logs or backups;
    # hub agents reach only the hub's push and pull.
    for (method, path), roles in declared.items():
        if path.startswith(("/api/system/", "/api/users", "/api/extensions", "/api/pairing/")):
            assert "extension" not in roles and "hub-agent" not in roles, (method, path)
        if "hub-agent" in roles:
            assert path in ("/api/sync/push", "/api/sync/profiles", "/api/sync/knowledge") \
                    or path.startswith("/api/sync/backups"), path
            assert roles == {"hub-agent"}
    assert declared[("GET", "/api/customers")] == USERS


# -- the walk ------------------------------------------------------------------------------------------------

def _login(service: RunningService, username: str, password: str) -> str:
    r = requests.post(service.url + "/api/auth/login", json={"username": username, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _role_tokens(service: RunningService, hub_agent_token: str) -> dict[str, str]:
    """A real token of every role on this service: users by login, the local token from its file, an extension
    by a real pairing, the hub agent's from `hub agent-add`."""
    r = service.post("/api/users", json={"username": "walker", "password": "walker-password-1", "role": "agent"})
    assert r.status_code == 201, r.text
    tokens = {"local": service.local_token, "extension": pair(service.url, service.local_token)["token"],
              "hub-agent": hub_agent_token}
    return _log_users_in(service, tokens)


def _log_users_in(service: RunningService, tokens: dict[str, str]) -> dict[str, str]:
    """Fresh admin and agent access tokens (after an operation that ended them)."""
    service._token = None  # the helper's cached admin token may have ended too
    return {**tokens, "admin": service.token(), "agent": _login(service, "walker", "walker-password-1")}


def _call(service: RunningService, method: str, path: str, operation: dict[str, Any], role: str,
          token: str | None) -> requests.Response:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if role == "extension":
        headers["Origin"] = ORIGIN  # the extension's requests always come from its bound Origin
    # A body that fails validation (after the auth decision) keeps restore, user creation and the like inert.
    kwargs: dict[str, Any] = {"json": {}} if "requestBody" in operation else (
        {} if method == "get" else {"data": b""})
    return requests.request(method.upper(), service.url + path, headers=headers, timeout=30, **kwargs)


def _walk(service: RunningService, tokens: dict[str, str], is_hub: bool,
          only: Any = lambda path, op: True) -> tuple[int, list[str]]:
    """(requests made, what went wrong) for every selected operation x every role and no token at all."""
    document = requests.get(service.url + "/api/openapi.json", timeout=10).json()
    problems: list[str] = []
    made = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not only(path, operation):
                continue
            declared = set(operation["x-roles"])
            for role in (*ROLES, NO_TOKEN):
                # An agent's service knows no hub tokens: hub-agent is allowed only where a hub answers.
                allowed = ANONYMOUS in declared or (role in declared and (role != "hub-agent" or is_hub))
                r = _call(service, method, path, operation, role, tokens.get(role))
                made += 1
                if (method, path) in SESSION_ENDING and not is_hub:
                    tokens.update(_log_users_in(service, tokens))
                where = f"{method.upper()} {path} as {role}: {r.status_code} {r.text[:160]}"
                if r.status_code >= 500:
                    problems.append(f"server error: {where}")
                    continue
                code = _error_code(r)
                refused_for_auth = r.status_code in (401, 403) and code in AUTH_CODES
                if allowed and refused_for_auth:
                    problems.append(f"allowed role refused: {where}")
                if not allowed and not refused_for_auth:
                    problems.append(f"refused role not refused: {where}")
    return made, problems


def _check_websocket_sessions(service: RunningService, tokens: dict[str, str]) -> None:
    """/ws declares who may hold a session (x-session-roles): each role authenticates the way its client does,
    the extension in its first message from its Origin, the others with ?token=."""
    document = requests.get(service.url + "/api/openapi.json", timeout=10).json()
    session_roles = set(document["paths"]["/ws"]["get"]["x-session-roles"])
    assert session_roles == {"admin", "agent", "local", "extension"}
    for role in ROLES:
        if role == "extension":
            ws = websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws", timeout=10, origin=ORIGIN)
            try:
                ws.send(json.dumps({"type": "auth", "token": tokens[role], "since": None}))
                assert json.loads(ws.recv())["type"] == "auth.ok"
            finally:
                ws.close()
            continue
        url = f"ws://127.0.0.1:{service.port}/ws?token={tokens[role]}"
        if role in session_roles:
            websocket.create_connection(url, timeout=10, suppress_origin=True).close()
        else:
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(url, timeout=10, suppress_origin=True)
            assert refused.value.status_code == 401, role


def _error_code(r: requests.Response) -> str | None:
    if r.status_code < 400:
        return None
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "not a JSON error"


@pytest.fixture(scope="module")
def hub(postgres, tmp_path_factory):
    running, url = start_hub(postgres, tmp_path_factory.mktemp("hub"), config=RELAXED_LIMITS)
    yield running, url
    running.stop()


def test_every_operation_x_every_role_on_a_running_service(tmp_path, hub):
    _, hub_url = hub
    service = start_service(tmp_path / "agent", config=RELAXED_LIMITS)
    try:
        tokens = _role_tokens(service, add_agent(hub_url, "walker-at-an-agent"))
        made, problems = _walk(service, tokens, is_hub=False)
        from api.routes import ROUTES

        assert made == len(ROUTES) * (len(ROLES) + 1), made  # every operation, as every role and without a token
        assert problems == [], "\n".join(problems)
        _check_websocket_sessions(service, tokens)
        assert service.get("/api/health").status_code == 200  # the walk stopped nothing
        assert len([e for e in service.get("/api/extensions").json()["items"] if e["state"] == "active"]) == 1
    finally:
        service.stop()


def test_every_role_on_the_hub_routes_of_a_running_hub(hub):
    hub_service, hub_url = hub
    tokens = _role_tokens(hub_service, add_agent(hub_url, "walker-at-the-hub"))
    made, problems = _walk(hub_service, tokens, is_hub=True,
                           only=lambda path, op: "hub-agent" in op["x-roles"])
    from api.routes import ROUTES

    assert made == len([r for r in ROUTES if "hub-agent" in r.roles]) * 6  # push, pull, off-site backups
    assert problems == [], "\n".join(problems)
