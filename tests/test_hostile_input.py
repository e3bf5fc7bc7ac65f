"""Hostile input on the capture, login and user endpoints (issue 13): each test failed before its fix."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import websocket
from pydantic import ValidationError

from api.schemas import ExtensionStatus
from core.clock import Clock
from crm import users
from storage import users as user_rows
from storage.database import Database, sqlite_url
from storage.migrations import migrate
from tests.helpers import message, start_service


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("hostile"))
    yield running
    running.stop()


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def _capture_text(body: dict, depth: int) -> bytes:
    """The capture as JSON text with a raw nested depth levels (Python's json cannot encode ~1000 levels)."""
    raw = '{"n":' * (depth - 1) + '{"leaf":1}' + "}" * (depth - 1)
    return (json.dumps(body)[:-1] + ', "raw": ' + raw + "}").encode()


def _stored_ids(svc) -> set[str]:
    items = svc.get("/api/messages?limit=200").json()["items"]
    return {m["message_id"] for m in items}


@pytest.mark.parametrize("depth", [33, 255, 300, 1023])
def test_deeply_nested_raw_is_a_clear_422_not_a_500(hostile, depth):
    body = message()
    for _ in range(2):  # a retry gets the same clear answer
        r = hostile.post("/api/messages/capture", data=_capture_text(body, depth),
                         headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error" and error["field"] == "raw"
        assert "32 levels" in error["message"]
    assert body["message_id"] not in _stored_ids(hostile)


def test_nesting_up_to_the_limit_is_stored(hostile):
    r = hostile.post("/api/messages/capture", json=message(raw=_nested(32)))
    assert r.status_code == 201, r.text


def test_oversized_raw_is_422(hostile):
    r = hostile.post("/api/messages/capture", json=message(raw={"blob": "x" * 70_000}))
    assert r.status_code == 422 and r.json()["error"]["field"] == "raw", r.text


def test_a_poison_item_in_a_batch_fails_alone(hostile):
    good = [message(content=f"oi {i}") for i in range(2)]
    poison = message(raw=_nested(300))
    r = hostile.post("/api/messages/capture/batch", json={"messages": [good[0], poison, good[1]]})
    assert r.status_code == 200, r.text
    statuses = [item["status"] for item in r.json()["results"]]
    assert statuses == [201, 422, 201]
    assert r.json()["results"][1]["error"]["field"] == "raw"
    stored = _stored_ids(hostile)
    assert {good[0]["message_id"], good[1]["message_id"]} <= stored and poison["message_id"] not in stored


@pytest.mark.parametrize("phone", ["1-800-FLOWERS", "+55 11 18888-7777", "+1 555 000 0000"])
def test_a_phone_with_letters_or_not_valid_is_422_on_phone_and_no_customer(hostile, phone):
    body = message(chat_id="not-a-jid-chat", phone=phone)
    r = hostile.post("/api/messages/capture", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "phone"
    assert body["message_id"] not in _stored_ids(hostile)


def test_a_phone_beside_a_whatsapp_jid_needs_only_a_possible_number(hostile):
    """WhatsApp vouches for it (the extension sends the @c.us digits, or an @lid chat's title): not refused when
    phonenumbers does not know the range, or real chats would be lost."""
    for chat_id in ("551100000000@c.us", "123456789012345@lid"):
        body = message(chat_id=chat_id, phone="+551100000000")
        r = hostile.post("/api/messages/capture", json=body)
        assert r.status_code == 201, r.text
    assert hostile.get("/api/customers/+551100000000").status_code == 200
    r = hostile.post("/api/messages/capture", json=message(chat_id="551100000000@c.us", phone="1-800-FLOWERS"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "phone"


def test_00_prefix_is_international(hostile):
    r = hostile.post("/api/messages/capture", json=message(chat_id="chat-00", phone="005511988887777"))
    assert r.status_code == 201, r.text
    assert hostile.get("/api/customers/+5511988887777").status_code == 200
    assert hostile.get("/api/customers/+11988887777").status_code == 404


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "false"])
def test_booleans_are_strict(hostile, value):
    r = hostile.post("/api/system/capture", json={"paused": value})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "paused"
    assert hostile.get("/api/health").json()["capture"]["paused"] is False
    with pytest.raises(ValidationError):
        ExtensionStatus.model_validate({"selectors_version": "1", "state": "ok", "paused": value})


def _signed(svc, **claims) -> str:
    now = int(time.time())
    body = {"sub": "admin", "role": "admin", "iat": now, "nbf": now, "exp": now + 600, "iss": "crm-agent", "ver": 0,
            "jti": f"self-signed-{time.time_ns()}", **claims}
    return jwt.encode(body, (svc.data_dir / "jwt_secret").read_text().strip(), algorithm="HS256")


def test_a_token_for_a_user_that_does_not_exist_is_401(hostile):
    assert hostile.get("/api/auth/me", token=_signed(hostile)).status_code == 200  # the real admin
    for _ in range(2):  # also once the token is in the verified-token cache
        r = hostile.get("/api/auth/me", token=_signed(hostile, sub="ghost"))
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    websocket_url = f"ws://127.0.0.1:{hostile.port}/ws?token={_signed(hostile, sub='ghost')}"
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(websocket_url, timeout=5)
    assert caught.value.status_code == 401


def test_a_token_claiming_another_role_than_the_users_is_401(hostile):
    created = hostile.post("/api/users", json={"username": "clerk", "password": "clerk-password-1", "role": "agent"})
    assert created.status_code == 201, created.text
    assert hostile.get("/api/auth/me", token=_signed(hostile, sub="clerk", role="agent")).status_code == 200
    assert hostile.get("/api/auth/me", token=_signed(hostile, sub="clerk", role="admin")).status_code == 401


def test_an_admin_needs_the_current_password_to_change_their_own(hostile):
    assert hostile.post("/api/users", json={"username": "boss", "password": "boss-password-1",
                                            "role": "admin"}).status_code == 201
    login = hostile.post("/api/auth/login", token=None, json={"username": "boss", "password": "boss-password-1"})
    boss = login.json()["access_token"]
    path = "/api/users/boss/password"
    r = hostile.request("PUT", path, token=boss, json={"password": "taken-over-123"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "current_password", r.text
    r = hostile.request("PUT", path, token=boss, json={"password": "taken-over-123", "current_password": "wrong-one"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_password", r.text
    r = hostile.request("PUT", path, token=boss, json={"password": "boss-password-2",
                                                       "current_password": "boss-password-1"})
    assert r.status_code == 200, r.text
    # Another admin (and the local desktop client) may still reset it without knowing it.
    assert hostile.request("PUT", path, json={"password": "boss-password-3"}).status_code == 200
    assert hostile.request("PUT", path, token=hostile.local_token,
                           json={"password": "boss-password-4"}).status_code == 200
    assert hostile.post("/api/auth/login", token=None,
                        json={"username": "boss", "password": "boss-password-4"}).status_code == 200


def _close_code(ws) -> tuple[int, str]:
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE, (opcode, data)
    return int.from_bytes(data[:2], "big"), data[2:].decode()


def test_one_token_cannot_take_every_websocket_slot(hostile):
    url = f"ws://127.0.0.1:{hostile.port}/ws"
    held = []
    try:
        for _ in range(8):
            held.append(websocket.create_connection(f"{url}?token={hostile.local_token}", timeout=5))
        extra = websocket.create_connection(f"{url}?token={hostile.local_token}", timeout=5)
        assert _close_code(extra) == (4429, "too many connections for this token")
        extra.close()
        # The same through the first-message authentication (the extension's way).
        extra = websocket.create_connection(url, timeout=5)
        extra.send(json.dumps({"type": "auth", "token": hostile.local_token}))
        assert _close_code(extra)[0] == 4429
        extra.close()
        # Other tokens still get in, and a freed slot is usable again.
        other = websocket.create_connection(f"{url}?token={hostile.token()}", timeout=5)
        other.send(json.dumps({"type": "ping"}))
        assert json.loads(other.recv())["type"] == "pong"
        other.close()
        held.pop().close()
        again = None
        for _ in range(50):  # the server notices the close asynchronously
            again = websocket.create_connection(f"{url}?token={hostile.local_token}", timeout=5)
            again.send(json.dumps({"type": "ping"}))
            opcode, data = again.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                break
            again.close()
            time.sleep(0.05)
        assert json.loads(data)["type"] == "pong"
        held.append(again)
    finally:
        for ws in held:
            ws.close()


def test_usernames_are_unique_whatever_their_case(hostile):
    first = hostile.post("/api/users", json={"username": "PROBE", "password": "probe-password-1"})
    assert first.status_code == 201 and first.json()["username"] == "probe", first.text
    second = hostile.post("/api/users", json={"username": "probe", "password": "probe-password-2"})
    assert second.status_code == 409 and second.json()["error"]["field"] == "username", second.text
    names = [u["username"] for u in hostile.get("/api/users").json()["items"]]
    assert names.count("probe") == 1 and "PROBE" not in names
    for spelling in ("probe", "PROBE", "Probe"):
        login = hostile.post("/api/auth/login", token=None, json={"username": spelling, "password": "probe-password-1"})
        assert login.status_code == 200, login.text
        assert hostile.get("/api/auth/me", token=login.json()["access_token"]).json()["subject"] == "probe"


def test_login_rate_limit_ignores_the_origin_header(tmp_path):
    svc = start_service(tmp_path / "a", config={"security": {"login_rate_per_min": 3, "login_max_failures": 100}})
    try:
        spellings = [f"http://LOCALHOST:{svc.port}", f"http://localhost:{svc.port}/", f"http://127.0.0.1:{svc.port}",
                     f"http://127.0.0.1:{svc.port}/", f"http://LocalHost:{svc.port}//", None]
        codes = []
        for i in range(12):
            origin = spellings[i % len(spellings)]
            headers = {"Origin": origin} if origin else {}
            r = svc.post("/api/auth/login", token=None, headers=headers,
                         json={"username": f"u{i}", "password": "x" * 8})
            codes.append(r.status_code)
        assert codes[:3] == [401, 401, 401]
        assert codes[3:] == [429] * 9, codes
    finally:
        svc.stop()


def test_users_made_before_casefolding_log_in_in_any_case(tmp_path):
    db = Database(sqlite_url(tmp_path / "u.db"))
    try:
        migrate(db, "2026-12-07T00:00:00.000Z")
        clock = Clock()
        with db.transaction():  # rows as an older version stored them, in their typed case
            user_rows.insert_user(db, "Maria", users.hash_password("maria-password"), "agent", "2026-01-01")
            user_rows.insert_user(db, "ANA", users.hash_password("ana-password-1"), "agent", "2026-01-01")
            user_rows.insert_user(db, "ana", users.hash_password("ana-password-2"), "agent", "2026-01-02")
        assert users.verify_credentials(db, "maria", "maria-password")["username"] == "Maria"
        assert users.verify_credentials(db, "MARIA", "maria-password")["username"] == "Maria"
        with pytest.raises(users.UserError, match="already exists"):
            users.create_user(db, clock, "maria", "another-password")
        # Old rows that differ only in case stay reachable by their exact spelling.
        assert users.verify_credentials(db, "ANA", "ana-password-1")["username"] == "ANA"
        assert users.verify_credentials(db, "ana", "ana-password-2")["username"] == "ana"
        users.change_password(db, clock, "maria", "maria-password-2")
        assert users.verify_credentials(db, "Maria", "maria-password-2") is not None
    finally:
        db.close()
