"""Pairing the browser extension with the agent, and what its token may do (docs/extension-protocol.md).

Against a real service: requests carry the Origin a browser extension's background would send.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys

import pytest
import websocket

from tests.helpers import ROOT, message, start_service, wait_until

EVIL = "https://evil.example"
WHATSAPP = "https://web.whatsapp.com"  # allowed below through security.web_origins, still a web page: it cannot pair
CLIENT = {"name": "Chromium on Linux", "browser": "chromium", "version": "0.1.0"}


def new_origin() -> str:
    """A fresh Chromium extension origin (32 letters a-p), so tests in a module do not share pairings."""
    return "chrome-extension://" + "".join(random.choice("abcdefghijklmnop") for _ in range(32))


def start(svc, origin: str, **body):
    return svc.post("/api/pair/start", token=None, headers={"Origin": origin}, json={**CLIENT, **body})


def complete(svc, origin: str, pairing_id: str, code: str):
    return svc.post("/api/pair/complete", token=None, headers={"Origin": origin},
                    json={"pairing_id": pairing_id, "code": code})


def pending_code(svc, pairing_id: str) -> str:
    items = svc.get("/api/pairing/pending").json()["items"]
    return next(p["code"] for p in items if p["pairing_id"] == pairing_id)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def pair(svc, origin: str) -> str:
    """Pair an extension from origin; return its token."""
    started = start(svc, origin)
    assert started.status_code == 201, started.text
    pairing_id = started.json()["pairing_id"]
    done = complete(svc, origin, pairing_id, pending_code(svc, pairing_id))
    assert done.status_code == 201, done.text
    return done.json()["token"]


def as_extension(svc, method: str, path: str, token: str, origin: str | None, **kwargs):
    headers = {"Origin": origin} if origin else {}
    return svc.request(method, path, token=token, headers=headers, **kwargs)


def ws_connect(svc, origin: str | None = None, query: str = ""):
    kwargs = {"origin": origin} if origin else {"suppress_origin": True}
    return websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws{query}", timeout=10, **kwargs)


def ws_auth(ws, token: str, since=None) -> dict:
    ws.send(json.dumps({"type": "auth", "token": token, "since": since}))
    return json.loads(ws.recv())


def close_frame(ws) -> tuple[int, str]:
    """Read until the close frame; its (code, reason)."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


def next_event(ws, skip=("metrics.updated",)) -> dict:
    while True:
        event = json.loads(ws.recv())
        if event["type"] not in skip:
            return event


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """This module pairs often: more starts a minute than the default 10 (the limit has its own tests)."""
    running = start_service(tmp_path_factory.mktemp("pairing"),
                            config={"security": {"pairing_starts_per_min": 1000, "web_origins": [WHATSAPP]}})
    yield running
    running.stop()


# -- pairing ------------------------------------------------------------------------------------------------

def test_pairing_with_a_wrong_then_the_right_code(service):
    origin = new_origin()
    started = start(service, origin)
    assert started.status_code == 201
    body = started.json()
    assert body["expires_in_s"] == 120 and body["code_length"] == 6 and body["pairing_id"]
    code = pending_code(service, body["pairing_id"])
    assert len(code) == 6 and code.isdigit()

    refused = complete(service, origin, body["pairing_id"], wrong(code))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "wrong_code"
    assert refused.json()["error"]["details"] == {"tries_left": 4}

    done = complete(service, origin, body["pairing_id"], code)
    assert done.status_code == 201
    token, extension = done.json()["token"], done.json()["extension"]
    assert len(token) >= 43  # 256 bits in base64url
    assert extension["origin"] == origin and extension["browser"] == "chromium"
    assert extension["name"] == CLIENT["name"] and extension["paired_at"].endswith("Z")
    assert all(p["pairing_id"] != body["pairing_id"] for p in service.get("/api/pairing/pending").json()["items"])

    me = as_extension(service, "GET", "/api/extension/me", token, origin)
    assert me.status_code == 200
    assert me.json()["extension"]["id"] == extension["id"]
    assert me.json()["agent"]["capture_paused"] is False and me.json()["agent"]["version"]
    listed = {e["id"]: e for e in service.get("/api/extensions").json()["items"]}
    assert listed[extension["id"]]["state"] == "active" and listed[extension["id"]]["last_seen_at"]
    # Used once: the same code cannot pair a second time.
    assert complete(service, origin, body["pairing_id"], code).json()["error"]["code"] == "pairing_expired"


def test_five_wrong_codes_end_the_pairing(service):
    origin = new_origin()
    pairing_id = start(service, origin).json()["pairing_id"]
    code = pending_code(service, pairing_id)
    tries_left = [complete(service, origin, pairing_id, wrong(code)).json()["error"]["details"]["tries_left"]
                  for _ in range(4)]
    assert tries_left == [4, 3, 2, 1]
    fifth = complete(service, origin, pairing_id, wrong(code))
    assert fifth.status_code == 410 and fifth.json()["error"]["code"] == "pairing_ended"
    late = complete(service, origin, pairing_id, code)
    assert late.status_code == 410 and late.json()["error"]["code"] == "pairing_expired"
    assert all(p["pairing_id"] != pairing_id for p in service.get("/api/pairing/pending").json()["items"])


def test_completing_from_another_extension_origin_is_refused(service):
    origin, other = new_origin(), new_origin()
    pairing_id = start(service, origin).json()["pairing_id"]
    code = pending_code(service, pairing_id)
    stolen = complete(service, other, pairing_id, code)
    assert stolen.status_code == 403 and stolen.json()["error"]["code"] == "origin_mismatch"
    # The refused attempt used none of the real extension's tries, and the pairing still works.
    assert complete(service, origin, pairing_id, code).status_code == 201


def test_admin_can_deny_a_pending_pairing(service):
    origin = new_origin()
    pairing_id = start(service, origin).json()["pairing_id"]
    code = pending_code(service, pairing_id)
    assert service.request("DELETE", f"/api/pairing/{pairing_id}").status_code == 204
    assert service.request("DELETE", f"/api/pairing/{pairing_id}").status_code == 404
    assert complete(service, origin, pairing_id, code).json()["error"]["code"] == "pairing_expired"


@pytest.mark.parametrize("origin", [EVIL, WHATSAPP, None, "chrome-extension://abc", "moz-extension://NOT-A-UUID"])
def test_web_pages_and_local_tools_cannot_pair(service, origin):
    headers = {"Origin": origin} if origin else {}
    r = service.post("/api/pair/start", token=None, headers=headers, json=CLIENT)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    real = new_origin()
    pairing_id = start(service, real).json()["pairing_id"]
    code = pending_code(service, pairing_id)
    r = service.post("/api/pair/complete", token=None, headers=headers, json={"pairing_id": pairing_id, "code": code})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    assert "token" not in r.text
    service.request("DELETE", f"/api/pairing/{pairing_id}")


@pytest.mark.parametrize("origin", [EVIL, WHATSAPP])
def test_web_pages_cannot_capture_even_with_a_stolen_token(service, origin):
    token = pair(service, new_origin())
    for sent_token in (None, token):
        r = service.post("/api/messages/capture", token=sent_token, headers={"Origin": origin}, json=message())
        assert r.status_code in (401, 403), (sent_token is None, r.text)
        assert r.json()["error"]["code"] in ("unauthorized", "forbidden_origin", "origin_mismatch")


def test_an_unpaired_extension_reaches_only_health_and_pairing(service):
    origin = new_origin()
    assert service.get("/api/health", token=None, headers={"Origin": origin}).status_code == 200
    r = service.get("/api/messages", headers={"Origin": origin})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    r = service.post("/api/messages/capture", token=None, headers={"Origin": origin}, json=message())
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"


def test_a_second_start_from_an_origin_replaces_its_pending_pairing(service):
    origin = new_origin()
    first = start(service, origin).json()["pairing_id"]
    second = start(service, origin).json()["pairing_id"]
    ids = [p["pairing_id"] for p in service.get("/api/pairing/pending").json()["items"]]
    assert second in ids and first not in ids
    service.request("DELETE", f"/api/pairing/{second}")


# -- what an extension token may do -------------------------------------------------------------------------

FORBIDDEN = [
    ("PUT", "/api/system/config", {"changes": {"capture.paused": True}}),
    ("GET", "/api/system/config", None),
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"username": "intruder", "password": "long-enough-password"}),
    ("PUT", "/api/users/admin/password", {"password": "long-enough-password"}),
    ("POST", "/api/system/restore", {"name": "x.db"}),
    ("POST", "/api/system/backup", None),
    ("GET", "/api/system/backups", None),
    ("GET", "/api/system/logs", None),
    ("POST", "/api/system/capture", {"paused": True}),
    ("GET", "/api/extensions", None),
    ("DELETE", "/api/extensions/1", None),
    ("GET", "/api/pairing/pending", None),
    ("DELETE", "/api/pairing/x", None),
    ("GET", "/api/messages", None),
    ("GET", "/api/customers", None),
    ("GET", "/api/auth/me", None),
]


@pytest.fixture(scope="module")
def paired(service):
    origin = new_origin()
    return pair(service, origin), origin


@pytest.mark.parametrize(("method", "path", "body"), FORBIDDEN)
def test_an_extension_token_cannot_reach_admin_or_data_routes(service, paired, method, path, body):
    token, origin = paired
    kwargs = {"json": body} if body is not None else {"data": b""}
    r = as_extension(service, method, path, token, origin, **kwargs)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == {"code": "forbidden", "message": "not allowed for a browser extension token"}


def test_refused_calls_change_nothing(service, paired):
    token, origin = paired
    backups_before = len(service.get("/api/system/backups").json()["items"])
    for method, path, body in FORBIDDEN[:7]:
        as_extension(service, method, path, token, origin, json=body)
    assert service.get("/api/health").json()["capture"]["paused"] is False
    assert "intruder" not in [u["username"] for u in service.get("/api/users").json()["items"]]
    assert len(service.get("/api/system/backups").json()["items"]) == backups_before
    assert service.post("/api/auth/login", token=None, json={
        "username": "admin", "password": service.admin_password}).status_code == 200


def test_an_extension_token_may_ask_for_drafts(service, paired):
    token, origin = paired
    r = as_extension(service, "POST", "/api/analysis/generate", token, origin, json={"text": "Quanto custa?"})
    assert r.status_code == 200 and r.json()["suggested_responses"]


def test_the_token_works_only_with_its_bound_origin(service, paired):
    token, origin = paired
    other_paired = new_origin()
    pair(service, other_paired)
    for other in (other_paired, WHATSAPP, f"http://127.0.0.1:{service.port}"):
        r = as_extension(service, "GET", "/api/extension/me", token, other)
        assert r.status_code == 403, other
        assert r.json()["error"]["code"] == "origin_mismatch", other
    for other in (other_paired, WHATSAPP, None):
        r = as_extension(service, "POST", "/api/extension/status", token, other, json={"state": "ok"})
        assert r.status_code == 403, other
        assert r.json()["error"]["code"] == "origin_mismatch", other
    assert as_extension(service, "GET", "/api/extension/me", token, origin).status_code == 200
    # Browsers send no Origin on an extension background's GET: a read without one is accepted.
    assert as_extension(service, "GET", "/api/extension/me", token, None).status_code == 200


def test_extension_endpoints_refuse_other_tokens(service):
    r = service.get("/api/extension/me")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_pairing_again_from_an_origin_revokes_the_older_token(service):
    origin = new_origin()
    old = pair(service, origin)
    new = pair(service, origin)
    r = as_extension(service, "GET", "/api/extension/me", old, origin)
    assert r.status_code == 401 and r.json()["error"]["code"] == "extension_revoked"
    assert as_extension(service, "GET", "/api/extension/me", new, origin).status_code == 200
    states = [e["state"] for e in service.get("/api/extensions").json()["items"] if e["origin"] == origin]
    assert states == ["revoked", "active"]


def test_token_is_stored_only_as_its_hash(service):
    origin = new_origin()
    token = pair(service, origin)
    stored = b"".join(p.read_bytes() for p in service.data_dir.glob("crm_agent.db*"))
    assert origin.encode() in stored  # the row is there (in the database or its WAL)...
    assert token.encode() not in stored  # ...without the token
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    # Nor in the log, and neither is a pairing code.
    pairing_id = start(service, new_origin()).json()["pairing_id"]
    code = pending_code(service, pairing_id)
    service.request("DELETE", f"/api/pairing/{pairing_id}")
    log_text = service.log_text()
    assert "pairing requested by" in log_text
    assert token not in log_text and f" {code}" not in log_text


# -- revocation ---------------------------------------------------------------------------------------------

def test_revoke_stops_requests_and_closes_the_websocket(service):
    origin = new_origin()
    token = pair(service, origin)
    extension_id = as_extension(service, "GET", "/api/extension/me", token, origin).json()["extension"]["id"]
    ws = ws_connect(service, origin)
    try:
        assert ws_auth(ws, token)["type"] == "auth.ok"
        r = service.request("DELETE", f"/api/extensions/{extension_id}")
        assert r.status_code == 200 and r.json() == {"id": extension_id, "state": "revoked"}
        assert close_frame(ws) == (4401, "revoked")
    finally:
        ws.close()
    r = as_extension(service, "GET", "/api/extension/me", token, origin)
    assert r.status_code == 401 and r.json()["error"]["code"] == "extension_revoked"
    r = as_extension(service, "POST", "/api/analysis/generate", token, origin, json={"text": "oi"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "extension_revoked"
    listed = {e["id"]: e for e in service.get("/api/extensions").json()["items"]}
    assert listed[extension_id]["state"] == "revoked" and listed[extension_id]["revoked_at"]
    # Its origin is no longer paired: back to health and pairing only.
    assert service.get("/api/messages", headers={"Origin": origin}).json()["error"]["code"] == "forbidden_origin"
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        ws_connect(service, origin)  # the upgrade needs a paired Origin
    assert caught.value.status_code == 403
    assert service.request("DELETE", "/api/extensions/999999").status_code == 404


# -- WebSocket ----------------------------------------------------------------------------------------------

def test_websocket_first_message_auth_and_event_filtering(service):
    origin = new_origin()
    token = pair(service, origin)
    admin = websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws?token={service.token()}", timeout=10)
    ext = ws_connect(service, origin)
    try:
        ok = ws_auth(ext, token)
        assert ok["type"] == "auth.ok" and ok["data"] == {"principal": "extension"} and ok["id"] == 0
        ext.send(json.dumps({"type": "ping"}))
        assert json.loads(ext.recv()) == {"type": "pong"}

        other = new_origin()
        pairing_id = start(service, other).json()["pairing_id"]
        service.request("DELETE", f"/api/pairing/{pairing_id}")
        created = service.post("/api/messages/capture", json=message()).json()

        requested = next_event(admin)
        assert requested["type"] == "pairing.requested"
        assert requested["data"]["code"] == pending_code_from_event(requested)
        assert requested["data"]["origin"] == other and requested["data"]["pairing_id"] == pairing_id
        assert next_event(admin)["type"] == "pairing.ended"
        assert next_event(admin)["type"] == "message.captured"
        # The extension saw neither the code nor the end of the pairing: its first event is the capture.
        first = next_event(ext)
        assert first["type"] == "message.captured" and first["data"]["id"] == created["id"]
        assert next_event(ext)["type"] == "analysis.completed"
    finally:
        admin.close()
        ext.close()


def pending_code_from_event(event: dict) -> str:
    code = event["data"]["code"]
    assert len(code) == 6 and code.isdigit()
    return code


def test_extension_websocket_resumes_without_pairing_events(service):
    origin = new_origin()
    token = pair(service, origin)
    since = service.get("/api/health").json()["websocket"]["last_event_id"]
    pairing_id = start(service, new_origin()).json()["pairing_id"]
    service.request("DELETE", f"/api/pairing/{pairing_id}")
    service.post("/api/messages/capture", json=message())
    ext = ws_connect(service, origin)
    try:
        assert ws_auth(ext, token, since=since)["type"] == "auth.ok"
        replayed = next_event(ext)  # the backlog since `since`, filtered
        assert replayed["type"] == "message.captured"
    finally:
        ext.close()


@pytest.mark.parametrize("first", [
    {"type": "hello"},
    {"type": "auth", "token": "forged-token"},
    {"type": "auth", "token": None},
    {"type": "auth", "token": "x", "since": "abc"},
    "not json",
])
def test_a_wrong_first_message_closes_with_4401(service, first):
    ws = ws_connect(service)
    try:
        ws.send(first if isinstance(first, str) else json.dumps(first))
        code, _ = close_frame(ws)
        assert code == 4401
    finally:
        ws.close()


def test_a_socket_that_never_authenticates_is_closed_after_10_seconds(service):
    ws = ws_connect(service)
    try:
        ws.settimeout(20)
        assert close_frame(ws) == (4401, "authentication timeout")
    finally:
        ws.close()


def test_first_message_auth_with_a_user_token_and_the_local_token(service):
    for token, role in ((service.token(), "admin"), (service.local_token, "local")):
        ws = ws_connect(service)
        try:
            assert ws_auth(ws, token)["data"] == {"principal": role}
        finally:
            ws.close()


def test_extension_token_from_another_origin_or_in_the_url_is_refused_on_the_websocket(service):
    origin = new_origin()
    token = pair(service, origin)
    other = new_origin()
    pair(service, other)
    ws = ws_connect(service, other)
    try:
        ws.send(json.dumps({"type": "auth", "token": token, "since": None}))
        assert close_frame(ws) == (4401, "origin_mismatch")
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        ws_connect(service, origin, query=f"?token={token}")
    assert caught.value.status_code == 401


def test_unauthenticated_sockets_count_against_max_clients(tmp_path):
    svc = start_service(tmp_path / "few", config={"websocket": {"max_clients": 2}})
    try:
        held = [ws_connect(svc), ws_connect(svc)]
        with pytest.raises(websocket.WebSocketBadStatusException) as caught:
            ws_connect(svc)
        assert caught.value.status_code == 503
        for ws in held:
            ws.close()
        wait_until(lambda: _can_connect(svc), message="a free WebSocket slot")
    finally:
        svc.stop()


def _can_connect(svc) -> bool:
    try:
        ws_connect(svc).close()
        return True
    except websocket.WebSocketBadStatusException:
        return False


# -- open the dashboard, status reports, health -------------------------------------------------------------

def test_open_dashboard_needs_a_desktop_client(service, paired):
    token, origin = paired
    r = as_extension(service, "POST", "/api/extension/open-dashboard", token, origin, data=b"")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_desktop"
    desktop = websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws?token={service.local_token}",
                                          timeout=10, suppress_origin=True)
    try:
        r = as_extension(service, "POST", "/api/extension/open-dashboard", token, origin, data=b"")
        assert r.status_code == 202 and r.json() == {"opened": True}
        event = next_event(desktop)
        assert event["type"] == "ui.open_requested" and event["data"] == {"window": "dashboard"}
    finally:
        desktop.close()
    wait_until(lambda: as_extension(service, "POST", "/api/extension/open-dashboard", token, origin,
                                    data=b"").status_code == 409, message="the desktop client counted as gone")


def _other_parts_degraded(health: dict) -> bool:
    return health["capture"]["paused"] or any(
        isinstance(part, dict) and part.get("degraded") for name, part in health.items() if name != "extensions")


def test_health_shows_a_stalled_extension_and_recovers(service):
    origin = new_origin()
    token = pair(service, origin)
    extension_id = as_extension(service, "GET", "/api/extension/me", token, origin).json()["extension"]["id"]
    admin = websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws?token={service.token()}", timeout=10)
    report = {"selectors_version": "2026.12-1", "state": "stalled", "reason": "no message rows in #main",
              "rows_seen": 0, "queued": 0, "paused": False}
    try:
        for _ in range(2):  # reported twice, notified once
            r = as_extension(service, "POST", "/api/extension/status", token, origin, json=report)
            assert r.status_code == 200 and r.json() == {"ok": True}
        health = service.get("/api/health").json()
        assert health["status"] == "degraded" and health["extensions"]["degraded"] is True
        assert [s["id"] for s in health["extensions"]["stalled"]] == [extension_id]
        assert health["extensions"]["stalled"][0]["reason"] == "no message rows in #main"
        listed = {e["id"]: e for e in service.get("/api/extensions").json()["items"]}
        assert listed[extension_id]["report"]["state"] == "stalled"

        as_extension(service, "POST", "/api/extension/status", token, origin, json={**report, "state": "ok",
                                                                                    "rows_seen": 12})
        stalled = next_event(admin)
        assert stalled["type"] == "capture.stalled"
        assert stalled["data"] == {"extension_id": extension_id, "name": CLIENT["name"],
                                   "reason": "no message rows in #main", "selectors_version": "2026.12-1"}
        resumed = next_event(admin)  # not a second capture.stalled
        assert resumed["type"] == "capture.resumed" and resumed["data"]["extension_id"] == extension_id
    finally:
        admin.close()
    health = service.get("/api/health").json()
    assert health["extensions"]["stalled"] == [] and health["extensions"]["degraded"] is False
    assert health["extensions"]["paired"] >= 1
    assert health["status"] == ("degraded" if _other_parts_degraded(health) else "ok")


# -- limits -------------------------------------------------------------------------------------------------

def test_at_most_three_pairings_pending(fresh_service):
    svc = fresh_service
    origins = [new_origin() for _ in range(4)]
    assert [start(svc, o).status_code for o in origins[:3]] == [201, 201, 201]
    refused = start(svc, origins[3])
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_pairings"
    assert 1 <= int(refused.headers["Retry-After"]) <= 120
    assert start(svc, origins[0]).status_code == 201  # a pending origin may still start again (it replaces)
    assert len(svc.get("/api/pairing/pending").json()["items"]) == 3


def test_at_most_ten_starts_a_minute(fresh_service):
    svc = fresh_service
    for _ in range(10):
        started = start(svc, new_origin())
        assert started.status_code == 201
        assert svc.request("DELETE", f"/api/pairing/{started.json()['pairing_id']}").status_code == 204
    refused = start(svc, new_origin())
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_pairings"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


# -- command line -------------------------------------------------------------------------------------------

def _cli(svc, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), "pair", *args, "--data-dir", str(svc.data_dir)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_cli_lists_pending_codes_and_revokes(service):
    origin = new_origin()
    pairing_id = start(service, origin).json()["pairing_id"]
    code = pending_code(service, pairing_id)
    shown = _cli(service, "pending")
    assert shown.returncode == 0, shown.stderr
    assert f"code {code}" in shown.stdout and origin in shown.stdout
    token = complete(service, origin, pairing_id, code).json()["token"]
    extension_id = as_extension(service, "GET", "/api/extension/me", token, origin).json()["extension"]["id"]
    listed = _cli(service, "list")
    assert listed.returncode == 0 and f"{extension_id}\tactive" in listed.stdout
    revoked = _cli(service, "revoke", str(extension_id))
    assert revoked.returncode == 0 and f"extension {extension_id} revoked" in revoked.stdout
    assert as_extension(service, "GET", "/api/extension/me", token, origin).status_code == 401
    assert _cli(service, "revoke", "999999").returncode == 1


# -- in process, with a clock the test steps ---------------------------------------------------------------

@pytest.fixture
def pairings(tmp_path):
    from core.clock import FakeClock, iso
    from crm.extensions import ExtensionRegistry
    from crm.pairing import Pairings
    from storage.database import Database, sqlite_url
    from storage.migrations import migrate

    clock = FakeClock()
    db = Database(sqlite_url(tmp_path / "crm.db"))
    migrate(db, iso(clock.now()))
    published: list[tuple[str, dict]] = []
    registry = ExtensionRegistry(db, clock, lambda kind, data: published.append((kind, data)))
    registry.load()
    yield Pairings(registry, clock, lambda kind, data: published.append((kind, data))), clock, published
    db.close()


def test_a_pairing_expires_after_120_seconds(pairings):
    from crm.pairing import PairingExpired

    book, clock, published = pairings
    origin = new_origin()
    pairing = book.start("Chromium", "chromium", "0.1.0", origin)
    assert published[-1][0] == "pairing.requested" and published[-1][1]["code"] == pairing.code
    clock.advance(119)
    assert [p.pairing_id for p in book.pending()] == [pairing.pairing_id]
    clock.advance(1)
    assert book.pending() == []
    assert published[-1] == ("pairing.ended", {"pairing_id": pairing.pairing_id, "origin": origin,
                                               "reason": "expired"})
    with pytest.raises(PairingExpired):
        book.complete(pairing.pairing_id, pairing.code, origin)


def test_the_start_rate_limit_frees_up_after_a_minute(pairings):
    from crm.pairing import TooManyPairings

    book, clock, _ = pairings
    for _ in range(10):
        book.deny(book.start("Chromium", "chromium", "", new_origin()).pairing_id)
    with pytest.raises(TooManyPairings) as caught:
        book.start("Chromium", "chromium", "", new_origin())
    assert 0 < caught.value.retry_after_s <= 60
    clock.advance(60)
    book.start("Chromium", "chromium", "", new_origin())


def test_codes_are_six_digits_and_vary(pairings):
    book, clock, _ = pairings
    codes = set()
    for _ in range(30):
        pairing = book.start("Chromium", "chromium", "", new_origin())
        assert len(pairing.code) == 6 and pairing.code.isdigit()
        codes.add(pairing.code)
        book.deny(pairing.pairing_id)
        clock.advance(6)  # stay under 10 starts a minute
    assert len(codes) > 20


def test_restoring_an_older_backup_keeps_later_revocations_and_pairings(fresh_service):
    svc = fresh_service
    first_origin, later_origin = new_origin(), new_origin()
    first = pair(svc, first_origin)
    first_id = as_extension(svc, "GET", "/api/extension/me", first, first_origin).json()["extension"]["id"]
    backup = svc.post("/api/system/backup")
    assert backup.status_code == 201, backup.text
    assert svc.request("DELETE", f"/api/extensions/{first_id}").status_code == 200
    later = pair(svc, later_origin)
    restored = svc.post("/api/system/restore", json={"name": backup.json()["name"]})
    assert restored.status_code == 200, restored.text
    # The backup knew the first extension as active and never heard of the later one; after a restart the
    # service knows only what the restored database says.
    svc.stop()
    svc = start_service(svc.data_dir)
    try:
        r = as_extension(svc, "GET", "/api/extension/me", first, first_origin)
        assert r.status_code == 401 and r.json()["error"]["code"] == "extension_revoked"
        assert as_extension(svc, "GET", "/api/extension/me", later, later_origin).status_code == 200
        states = {e["origin"]: e["state"] for e in svc.get("/api/extensions").json()["items"]}
        assert states == {first_origin: "revoked", later_origin: "active"}
    finally:
        svc.stop()


def test_admin_routes_refuse_an_extension_even_if_marked_for_extensions(tmp_path):
    from api.errors import ApiError
    from api.plugins import ApiPlugin
    from api.roles import ADMINS, USERS_AND_EXTENSION
    from api.routing import ApiRoute
    from core.clock import FakeClock, iso
    from crm.access import EXTENSION, TokenService
    from crm.extensions import ExtensionRegistry
    from crm.ratelimit import RateLimiter
    from storage.database import Database, sqlite_url
    from storage.migrations import migrate

    clock = FakeClock()
    db = Database(sqlite_url(tmp_path / "crm.db"))
    try:
        migrate(db, iso(clock.now()))
        registry = ExtensionRegistry(db, clock, lambda kind, data: None)
        registry.load()
        plugin = ApiPlugin(TokenService("s" * 64, 600, "local-token", clock), RateLimiter(clock, 100, 100),
                           extensions=registry)
        origin = new_origin()
        token, extension = registry.pair("Chromium", "chromium", origin)
        environ = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ORIGIN": origin}
        principal = plugin._authenticate(dict(environ), USERS_AND_EXTENSION, False)
        assert (principal.role, principal.kind, principal.extension_id, principal.origin) == \
            ("extension", "extension", extension.id, origin)
        assert principal.is_admin is False
        with pytest.raises(ApiError) as caught:
            plugin._authenticate(dict(environ), ADMINS, False)
        assert caught.value.status == 403 and caught.value.code == "forbidden"
        # Roles are exact now: "marked for extensions" on an admin route is a declaration that cannot be made.
        with pytest.raises(ValueError, match="extension"):
            ApiRoute("GET", "/admin-thing", lambda: None, summary="x", tag="x", roles=ADMINS | {EXTENSION})
    finally:
        db.close()


def test_last_seen_is_written_at_most_once_a_minute(pairings):
    book, clock, _ = pairings
    registry = book.registry
    token, extension = registry.pair("Chromium", "chromium", new_origin())

    def stored() -> str | None:
        return registry.db.scalar("SELECT last_seen_at FROM extensions WHERE id = :id", {"id": extension.id})

    registry.seen(registry.for_token(token))
    first = stored()
    assert first is not None
    clock.advance(59)
    registry.seen(extension)
    assert stored() == first  # remembered in memory only
    assert extension.last_seen_at > first
    clock.advance(1)
    registry.seen(extension)
    assert stored() == extension.last_seen_at > first
