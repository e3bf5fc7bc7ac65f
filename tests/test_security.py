"""Security on a real service: tokens, Host/Origin/CORS on HTTP and WebSocket, limits, secrets in logs."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
import websocket

from tests.helpers import message, start_service

EXTENSION = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
WHATSAPP = "https://web.whatsapp.com"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("secured"),
                            config={"security": {"extension_origins": [EXTENSION], "web_origins": [WHATSAPP]}})
    yield running
    running.stop()


def test_whatsapp_web_itself_is_refused_by_default(service):
    # The content script never calls the agent (its requests go through the extension's background), so by
    # default no web page, WhatsApp Web included, is a CORS origin of the agent.
    r = service.get("/api/health", headers={"Origin": WHATSAPP})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    assert "Access-Control-Allow-Origin" not in r.headers


def _secret(svc) -> str:
    return (svc.data_dir / "jwt_secret").read_text().strip()


def _claims(**overrides):
    now = int(time.time())
    claims = {"sub": "admin", "role": "admin", "iat": now, "nbf": now, "exp": now + 600, "iss": "crm-agent",
              "ver": 0, "jti": f"self-signed-{time.time_ns()}"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_missing_token_is_401(secured):
    r = secured.get("/api/messages", token=None)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(secured):
    now = int(time.time())
    token = jwt.encode(_claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600), _secret(secured), algorithm="HS256")
    r = secured.get("/api/messages", token=token)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_forged_token_is_401(secured):
    token = jwt.encode(_claims(), "a-different-secret-that-is-long-enough-for-hs256!!", algorithm="HS256")
    assert secured.get("/api/messages", token=token).status_code == 401


def test_alg_none_token_is_401(secured):
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims())}."
    assert secured.get("/api/messages", token=token).status_code == 401


def test_token_without_required_claims_is_401(secured):
    token = jwt.encode(_claims(exp=None), _secret(secured), algorithm="HS256")
    assert secured.get("/api/messages", token=token).status_code == 401
    token = jwt.encode(_claims(role="superuser"), _secret(secured), algorithm="HS256")
    assert secured.get("/api/messages", token=token).status_code == 401


def test_valid_self_signed_token_and_local_token_work(secured):
    token = jwt.encode(_claims(), _secret(secured), algorithm="HS256")
    assert secured.get("/api/messages", token=token).status_code == 200
    assert secured.get("/api/auth/me", token=secured.local_token).json()["kind"] == "local"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost:1", "127.0.0.1.nip.io:{port}",
                                  "localhost:{port}@evil", ""])
def test_foreign_host_header_is_403(secured, host):
    r = requests.get(secured.url + "/api/health", headers={"Host": host.format(port=secured.port)})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden_host"


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}"])
def test_local_host_headers_are_served(secured, host):
    r = requests.get(secured.url + "/api/health", headers={"Host": host.format(port=secured.port)})
    assert r.status_code == 200


def test_disallowed_origin_is_refused_without_cors_headers(secured):
    for method, path in (("GET", "/api/health"), ("POST", "/api/messages/capture"), ("GET", "/api/messages")):
        r = secured.request(method, path, headers={"Origin": EVIL}, json=message() if method == "POST" else None)
        assert r.status_code == 403, (method, path)
        assert r.json()["error"]["code"] == "forbidden_origin"
        assert "Access-Control-Allow-Origin" not in r.headers
    for origin in ("null", f"http://localhost:{secured.port + 1}", f"https://127.0.0.1:{secured.port}"):
        assert secured.get("/api/health", headers={"Origin": origin}).status_code == 403, origin
    assert secured.get("/api/health", headers={"Origin": f"http://localhost:{secured.port}"}).status_code == 200


@pytest.mark.parametrize("origin", [EXTENSION, WHATSAPP])
def test_allowed_origins_get_cors_headers(secured, origin):
    r = secured.post("/api/messages/capture", headers={"Origin": origin}, json=message())
    assert r.status_code == 201
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in r.headers["Vary"]


def test_preflight_for_allowed_origin_allows_private_network(secured):
    r = requests.options(secured.url + "/api/messages/capture", headers={
        "Origin": EXTENSION, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert r.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "authorization" in r.headers["Access-Control-Allow-Headers"].lower()


def test_preflight_for_other_origin_reflects_nothing(secured):
    r = requests.options(secured.url + "/api/messages/capture", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Private-Network": "true"})
    assert r.status_code == 403
    assert not any(h.lower().startswith("access-control-") for h in r.headers)


def test_non_json_post_is_415(secured):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = secured.post("/api/messages/capture", data=json.dumps(message()), headers={"Content-Type": content_type})
        assert r.status_code == 415, content_type
        assert r.json()["error"]["code"] == "unsupported_media_type"


def test_body_over_limit_is_413_and_nothing_is_stored(secured):
    before = secured.get("/api/messages?limit=1").json()["total"]
    big = message(raw={"padding": "x" * 300_000})
    r = secured.post("/api/messages/capture", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert secured.get("/api/messages?limit=1").json()["total"] == before


def test_chunked_body_without_length_is_411(secured):
    def chunks():
        yield json.dumps(message()).encode()

    r = secured.post("/api/messages/capture", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 411


def test_errors_never_leak_tracebacks(secured):
    r = secured.post("/api/messages/capture", data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "Traceback" not in r.text and "File \"" not in r.text


def test_websocket_checks_origin_host_and_token_before_upgrade(secured):
    url = f"ws://127.0.0.1:{secured.port}/ws"
    token = secured.token()
    for kwargs, status in (({"origin": EVIL}, 403), ({"host": "evil.example"}, 403),
                           ({"suppress_origin": True}, 401), ({}, 401)):
        target = f"{url}?token={token}" if status != 401 else f"{url}?token=forged"
        with pytest.raises(websocket.WebSocketBadStatusException) as caught:
            websocket.create_connection(target, timeout=5, **kwargs)
        assert caught.value.status_code == status, kwargs
    ws = websocket.create_connection(f"{url}?token={token}", origin=EXTENSION, timeout=5)
    ws.close()
    ws = websocket.create_connection(f"{url}?token={secured.local_token}", timeout=5)
    ws.close()


def test_secrets_never_appear_in_logs(secured):
    token = secured.token()
    websocket.create_connection(f"ws://127.0.0.1:{secured.port}/ws?token={token}", timeout=5).close()
    secured.post("/api/auth/login", token=None, json={"username": "admin", "password": "wrong-password-123"})
    log_text = secured.log_text()
    for secret in (token, secured.local_token, _secret(secured), secured.admin_password, "wrong-password-123"):
        assert secret not in log_text
    assert "POST /api/messages/capture 201" in log_text  # the request log is there


def test_login_lockout_grows_and_correct_password_waits(fresh_service):
    svc = fresh_service
    creds = {"username": "admin", "password": "nope-nope"}
    statuses = [svc.post("/api/auth/login", token=None, json=creds).status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = svc.post("/api/auth/login", token=None, json={"username": "admin", "password": svc.admin_password})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] in ("locked_out", "rate_limited")
    assert int(locked.headers["Retry-After"]) >= 1


def test_login_rate_limit_per_client(tmp_path):
    svc = start_service(tmp_path / "a", config={"security": {"login_rate_per_min": 3, "login_max_failures": 100}})
    try:
        codes = [svc.post("/api/auth/login", token=None, json={"username": f"u{i}", "password": "x" * 8}).status_code
                 for i in range(6)]
        assert codes[:3] == [401, 401, 401]
        assert 429 in codes[3:]
    finally:
        svc.stop()


def test_rate_limit_per_token_gives_429_with_retry_after(tmp_path):
    svc = start_service(tmp_path / "b", config={"security": {"rate_limit_per_s": 1, "rate_limit_burst": 5}})
    try:
        token = svc.local_token
        codes = [svc.get("/api/auth/me", token=token).status_code for _ in range(12)]
        assert 200 in codes and 429 in codes
        limited = svc.get("/api/auth/me", token=token)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
    finally:
        svc.stop()
