"""Revocable sessions on a real service: logout, per-user token versions (password change, disable, revoke),
disabled users, open WebSockets closed with 4401, and JWT signing key rotation (issue 13)."""

from __future__ import annotations

import stat
import subprocess
import sys
import time

import jwt
import pytest
import requests
import websocket

from tests.helpers import ROOT, register_secret, start_service
from tests.pairing_helpers import ORIGIN, as_extension, pair

CLI = [sys.executable, str(ROOT / "agent.py")]
# These tests log in often from one client: the per-client login limit (10 a minute) is not what they test.
MANY_LOGINS = {"security": {"login_rate_per_min": 1000}}


def _cli(svc, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "--data-dir", str(svc.data_dir)], input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def _add_user(svc, name: str, password: str, role: str = "agent") -> None:
    r = svc.post("/api/users", token=svc.local_token, json={"username": name, "password": password, "role": role})
    assert r.status_code == 201, r.text


def _login(svc, name: str, password: str) -> str:
    r = svc.post("/api/auth/login", token=None, json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _me(svc, token: str) -> int:
    return svc.get("/api/auth/me", token=token).status_code


def _ws(svc, token: str) -> websocket.WebSocket:
    return websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={token}", timeout=15)


def _ws_first_message(svc, token: str) -> websocket.WebSocket:
    """The way the extension authenticates: the token in the first message, not the URL."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws", timeout=15)
    ws.send(f'{{"type": "auth", "token": "{token}"}}')
    return ws


def close_frame(ws) -> tuple[int, str]:
    """Read until the close frame (events before it are skipped); its (code, reason). Times out after 15 s."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


def _still_open(ws) -> bool:
    """A ping answered: the session was not closed."""
    ws.ping(b"still-there")
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_PONG and data == b"still-there":
            return True
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return False


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("sessions"), config=MANY_LOGINS)
    yield running
    running.stop()


# -- logout --------------------------------------------------------------------------------------------------


def test_logout_ends_the_calling_token_only_even_when_it_was_cached(svc):
    _add_user(svc, "lena", "lena-password-1")
    first, second = _login(svc, "lena", "lena-password-1"), _login(svc, "lena", "lena-password-1")
    assert _me(svc, first) == 200 and _me(svc, second) == 200  # both verified and in the signature cache
    r = svc.post("/api/auth/logout", token=first)
    assert r.status_code == 200 and r.json() == {"logged_out": True}
    refused = svc.get("/api/auth/me", token=first)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "token revoked"
    assert svc.post("/api/auth/logout", token=first).status_code == 401
    assert _me(svc, second) == 200


def test_the_local_token_is_not_a_session_to_log_out(svc):
    r = svc.post("/api/auth/logout", token=svc.local_token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_a_session"
    assert _me(svc, svc.local_token) == 200


def test_logout_closes_that_tokens_websockets_at_once(svc):
    _add_user(svc, "otto", "otto-password-1")
    token, other = _login(svc, "otto", "otto-password-1"), _login(svc, "otto", "otto-password-1")
    ws, ws_other = _ws(svc, token), _ws(svc, other)
    try:
        assert svc.post("/api/auth/logout", token=token).status_code == 200
        started = time.monotonic()
        assert close_frame(ws) == (4401, "token revoked")
        assert time.monotonic() - started < 10  # liveness only: in-process revocations re-check at once
        assert _still_open(ws_other)
    finally:
        ws.close()
        ws_other.close()


def test_tokens_without_ver_and_jti_are_refused(svc):
    """Tokens issued before sessions became revocable carry neither claim: they could not be logged out."""
    secret = (svc.data_dir / "jwt_secret").read_text().strip()
    now = int(time.time())
    old_style = jwt.encode({"sub": "admin", "role": "admin", "iat": now, "nbf": now, "exp": now + 600,
                            "iss": "crm-agent"}, secret, algorithm="HS256")
    assert _me(svc, old_style) == 401
    wrong_version = jwt.encode({"sub": "admin", "role": "admin", "iat": now, "nbf": now, "exp": now + 600,
                                "iss": "crm-agent", "ver": 7, "jti": "made-up-id-123"}, secret, algorithm="HS256")
    assert _me(svc, wrong_version) == 401


# -- per-user token version: password change, revoke, disable ------------------------------------------------


def test_a_password_change_ends_every_token_of_that_user(svc):
    _add_user(svc, "pia", "pia-password-1")
    tokens = [_login(svc, "pia", "pia-password-1") for _ in range(2)]
    bystander = svc.token()
    r = svc.request("PUT", "/api/users/pia/password", token=tokens[0],
                    json={"password": "pia-password-2", "current_password": "pia-password-1"})
    assert r.status_code == 200, r.text
    assert [_me(svc, t) for t in tokens] == [401, 401]
    assert _me(svc, bystander) == 200
    assert _me(svc, _login(svc, "pia", "pia-password-2")) == 200


def test_admin_api_revokes_a_users_sessions_and_their_websockets(svc):
    _add_user(svc, "raul", "raul-password-1")
    token = _login(svc, "raul", "raul-password-1")
    ws, ws_message = _ws(svc, token), _ws_first_message(svc, token)
    try:
        assert _me(svc, token) == 200
        assert svc.request("DELETE", "/api/users/raul/sessions", token=token).status_code == 403  # admin only
        r = svc.request("DELETE", "/api/users/RAUL/sessions")
        assert r.status_code == 200 and r.json() == {"username": "raul", "revoked": True}
        assert close_frame(ws) == (4401, "token revoked")
        assert close_frame(ws_message) == (4401, "token revoked")
    finally:
        ws.close()
        ws_message.close()
    assert _me(svc, token) == 401
    assert _me(svc, _login(svc, "raul", "raul-password-1")) == 200  # a new login works
    assert svc.request("DELETE", "/api/users/nobody/sessions").status_code == 404


def test_disable_and_enable_through_the_api(svc):
    _add_user(svc, "dora", "dora-password-1")
    token = _login(svc, "dora", "dora-password-1")
    ws = _ws(svc, token)
    try:
        r = svc.patch("/api/users/dora", json={"active": False})
        assert r.status_code == 200 and r.json()["active"] is False
        assert close_frame(ws) == (4401, "token revoked")
    finally:
        ws.close()
    assert _me(svc, token) == 401
    # A disabled user's right password gets the same answer as a wrong one.
    right = svc.post("/api/auth/login", token=None, json={"username": "dora", "password": "dora-password-1"})
    wrong = svc.post("/api/auth/login", token=None, json={"username": "dora", "password": "not-her-password"})
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    listed = {u["username"]: u["active"] for u in svc.get("/api/users").json()["items"]}
    assert listed["dora"] is False
    assert svc.patch("/api/users/dora", json={"active": True}).status_code == 200
    assert _me(svc, token) == 401  # enabling again does not bring the old tokens back
    assert _me(svc, _login(svc, "dora", "dora-password-1")) == 200


@pytest.mark.parametrize("body", [{"active": "false"}, {"active": 0}, {"active": None}, {}, {"active": True, "x": 1}])
def test_disable_takes_strict_booleans_only(svc, body):
    r = svc.patch("/api/users/admin", json=body)
    assert r.status_code == 422, r.text


def test_disable_needs_an_admin_and_an_existing_user(svc):
    _add_user(svc, "ivo", "ivo-password-1")
    token = _login(svc, "ivo", "ivo-password-1")
    assert svc.patch("/api/users/admin", token=token, json={"active": False}).status_code == 403
    assert svc.patch("/api/users/nobody", json={"active": False}).status_code == 404


def test_no_admin_disables_themselves_or_the_last_active_admin(tmp_path):
    svc = start_service(tmp_path / "agent", config=MANY_LOGINS)
    try:
        _no_admin_disables_themselves_or_the_last_active_admin(svc)
    finally:
        svc.stop()


def _no_admin_disables_themselves_or_the_last_active_admin(svc):
    own = svc.patch("/api/users/admin", json={"active": False})  # an admin's own token
    assert own.status_code == 409 and "your own" in own.json()["error"]["message"]
    last = svc.patch("/api/users/admin", token=svc.local_token, json={"active": False})
    assert last.status_code == 409 and "last active admin" in last.json()["error"]["message"]
    refused = _cli(svc, "user", "disable", "admin")
    assert refused.returncode == 1 and "last active admin" in refused.stderr
    _add_user(svc, "boss", "boss-password-1", role="admin")
    assert svc.patch("/api/users/admin", token=_login(svc, "boss", "boss-password-1"),
                     json={"active": False}).status_code == 200
    assert svc.get("/api/users").status_code == 401  # the disabled admin's token ended


# -- the command line while the service runs ------------------------------------------------------------------


def test_cli_disable_enable_passwd_and_revoke_reach_the_running_service(svc):
    _add_user(svc, "cleo", "cleo-password-1")
    token = _login(svc, "cleo", "cleo-password-1")
    ws = _ws(svc, token)
    try:
        done = _cli(svc, "user", "disable", "cleo")
        assert done.returncode == 0, done.stderr
        assert _me(svc, token) == 401  # the next request sees what the command wrote
        # The WebSocket closes on its timer: the revocation came from another process.
        assert close_frame(ws) == (4401, "token revoked")
    finally:
        ws.close()
    assert svc.post("/api/auth/login", token=None,
                    json={"username": "cleo", "password": "cleo-password-1"}).status_code == 401
    assert _cli(svc, "user", "enable", "cleo").returncode == 0
    token = _login(svc, "cleo", "cleo-password-1")
    listing = _cli(svc, "user", "list").stdout
    assert "cleo\tagent\tactive" in listing

    assert _cli(svc, "user", "sessions", "revoke", "cleo").returncode == 0
    assert _me(svc, token) == 401
    token = _login(svc, "cleo", "cleo-password-1")
    register_secret("password sent to the service", "cleo-password-2")
    assert _cli(svc, "user", "passwd", "cleo", "--password-stdin", stdin="cleo-password-2\n").returncode == 0
    assert _me(svc, token) == 401
    missing = _cli(svc, "user", "sessions", "revoke", "nobody")
    assert missing.returncode == 1 and "no user named" in missing.stderr


# -- JWT signing key rotation ---------------------------------------------------------------------------------


def test_rotate_keys_through_the_running_service(tmp_path):
    svc = start_service(tmp_path / "agent", config=MANY_LOGINS)
    try:
        key_file = svc.data_dir / "jwt_secret"
        old_key = key_file.read_text().strip()
        register_secret("JWT signing key", old_key)  # the file will no longer hold it at the end of the run
        extension = pair(svc.url, svc.local_token)
        token = svc.token()
        ws = _ws(svc, token)
        local_ws = _ws(svc, svc.local_token)
        try:
            done = _cli(svc, "security", "rotate-keys")
            assert done.returncode == 0, done.stderr
            assert "rotated by the service" in done.stdout
            assert close_frame(ws) == (4401, "token revoked")
            assert _still_open(local_ws)
        finally:
            ws.close()
            local_ws.close()
        assert key_file.read_text().strip() != old_key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert not list(svc.data_dir.glob("jwt_secret.tmp"))
        assert _me(svc, token) == 401  # old JWTs end at once
        # Neither the local token nor a paired extension's token is a JWT: both keep working.
        assert _me(svc, svc.local_token) == 200
        me = requests.get(svc.url + "/api/extension/me", headers=as_extension(extension["token"], ORIGIN), timeout=10)
        assert me.status_code == 200, me.text
        assert _me(svc, _login(svc, "admin", svc.admin_password)) == 200  # signed with the new key
        # An admin may rotate through the API too; its own token ends with the rest.
        admin_token = _login(svc, "admin", svc.admin_password)
        register_secret("JWT signing key", key_file.read_text().strip())
        assert svc.post("/api/security/rotate-keys", token=admin_token).status_code == 200
        assert _me(svc, admin_token) == 401
    finally:
        svc.stop()


def test_rotate_keys_without_a_service_replaces_the_key_file(tmp_path):
    data_dir = tmp_path / "agent"
    svc = start_service(data_dir)
    token = svc.token()
    svc.stop()
    old_key = (data_dir / "jwt_secret").read_text().strip()
    register_secret("JWT signing key", old_key)
    done = subprocess.run([*CLI, "security", "rotate-keys", "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    new_key = (data_dir / "jwt_secret").read_text().strip()
    assert new_key != old_key and len(new_key) == 64
    assert stat.S_IMODE((data_dir / "jwt_secret").stat().st_mode) == 0o600
    svc = start_service(data_dir)
    try:
        assert _me(svc, token) == 401
        assert _me(svc, svc.local_token) == 200
    finally:
        svc.stop()


def test_a_session_with_a_valid_token_stays_open_across_rechecks(svc):
    ws, ws_message = _ws(svc, svc.token()), _ws_first_message(svc, svc.token())
    try:
        time.sleep(5)  # more than two re-check periods (RECHECK_S)
        assert _still_open(ws) and _still_open(ws_message)
    finally:
        ws.close()
        ws_message.close()


def test_logout_and_disable_on_a_hub_with_postgresql(postgres, tmp_path):
    """The same migration and lookup on PostgreSQL (a team hub has users too)."""
    from tests.sync_helpers import start_hub

    hub, _ = start_hub(postgres, tmp_path / "hub", config=MANY_LOGINS)
    try:
        _add_user(hub, "hana", "hana-password-1")
        first, second = _login(hub, "hana", "hana-password-1"), _login(hub, "hana", "hana-password-1")
        assert hub.post("/api/auth/logout", token=first).status_code == 200
        assert (_me(hub, first), _me(hub, second)) == (401, 200)
        assert hub.patch("/api/users/hana", token=hub.local_token, json={"active": False}).status_code == 200
        assert _me(hub, second) == 401
    finally:
        hub.stop()


# -- restore ---------------------------------------------------------------------------------------------------


def test_a_restore_keeps_the_sessions_ended_after_its_backup(tmp_path):
    """The restored users table predates the revocations made since its backup: they must survive it, or an
    old backup would bring logged-out, revoked and disabled users' tokens back to life."""
    svc = start_service(tmp_path / "agent", config=MANY_LOGINS)
    try:
        for name in ("ana", "bea", "cid", "dan"):
            _add_user(svc, name, f"{name}-password-1")
        tokens = {name: _login(svc, name, f"{name}-password-1") for name in ("ana", "bea", "cid", "dan")}
        backup = svc.post("/api/system/backup").json()["name"]
        assert svc.post("/api/auth/logout", token=tokens["ana"]).status_code == 200
        assert svc.request("DELETE", "/api/users/bea/sessions").status_code == 200
        assert svc.patch("/api/users/cid", json={"active": False}).status_code == 200
        later = _login(svc, "dan", "dan-password-1")  # issued after the backup: unknown to it, still valid

        assert svc.post("/api/system/restore", json={"name": backup}).status_code == 200

        assert [_me(svc, tokens[name]) for name in ("ana", "bea", "cid")] == [401, 401, 401]
        assert _me(svc, tokens["dan"]) == 200 and _me(svc, later) == 200
        listed = {u["username"]: u["active"] for u in svc.get("/api/users").json()["items"]}
        assert listed["cid"] is False  # disabled since the backup: stays disabled
        cid = svc.post("/api/auth/login", token=None, json={"username": "cid", "password": "cid-password-1"})
        assert cid.status_code == 401
        assert _me(svc, _login(svc, "bea", "bea-password-1")) == 200  # a new login works as usual
    finally:
        svc.stop()
