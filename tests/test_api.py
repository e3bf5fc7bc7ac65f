"""Every endpoint, on a real service: happy paths and their error paths."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from tests.helpers import message


def test_health_needs_no_auth_and_reports_parts(service):
    r = service.get("/api/health", token=None)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"]["state"] == "ok" and body["database"]["schema_version"] >= 1
    assert body["analyzer"]["engine"] == "rules"
    assert body["uptime_s"] >= 0 and body["version"]


def test_first_start_prints_admin_password_and_keeps_it_private(service):
    assert service.admin_password
    secret_file = service.data_dir / "admin_password.txt"
    assert service.admin_password in secret_file.read_text()
    for name in ("admin_password.txt", "local_token", "jwt_secret"):
        assert (service.data_dir / name).stat().st_mode & 0o777 == 0o600, name


def test_login_returns_bearer_token(service):
    r = service.post("/api/auth/login", token=None, json={"username": "admin", "password": service.admin_password})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"].count(".") == 2
    me = service.get("/api/auth/me", token=body["access_token"]).json()
    assert me == {"subject": "admin", "role": "admin", "kind": "jwt"}


def test_login_with_wrong_password_is_401_json(service):
    r = service.post("/api/auth/login", token=None, json={"username": "admin", "password": "wrong-password"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_credentials"


def test_capture_stores_and_analyses(service):
    body = message(content="Oi, quanto custa o plano mensal?")
    r = service.post("/api/messages/capture", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["duplicate"] is False
    assert created["id"] > 0 and created["conversation_id"] > 0 and created["customer_id"] > 0
    analysis = created["analysis"]
    assert analysis["sentiment"]["label"] in ("positive", "neutral", "negative")
    assert -1 <= analysis["sentiment"]["score"] <= 1
    assert 0 <= analysis["intent"]["confidence"] <= 1
    assert analysis["engine"] == "rules" and analysis["model_version"]
    assert isinstance(analysis["suggested_responses"], list) and analysis["suggested_responses"]

    stored = service.get(f"/api/messages/{created['id']}").json()
    assert stored["content"] == body["content"]
    assert stored["message_id"] == body["message_id"]
    assert stored["customer"]["phone"] == "+5511999990000"
    assert stored["conversation"]["id"] == created["conversation_id"]
    assert stored["analysis"]["intent"] == analysis["intent"]


def test_replay_returns_same_id_with_duplicate_flag(service):
    body = message()
    first = service.post("/api/messages/capture", json=body)
    second = service.post("/api/messages/capture", json=body)
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["duplicate"] is True
    assert second.json()["analysis"]["sentiment"] == first.json()["analysis"]["sentiment"]


def test_distinct_messages_with_same_content_are_not_duplicates(service):
    a = service.post("/api/messages/capture", json=message(content="ok"))
    b = service.post("/api/messages/capture", json=message(content="ok"))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_timestamp_accepts_iso_and_epoch_ms(service):
    when = datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc)
    iso = service.post("/api/messages/capture", json=message(timestamp="2026-03-01T09:30:00-03:00")).json()
    ms = service.post("/api/messages/capture", json=message(timestamp=int(when.timestamp() * 1000))).json()
    assert service.get(f"/api/messages/{iso['id']}").json()["sent_at"] == "2026-03-01T12:30:00.000Z"
    assert service.get(f"/api/messages/{ms['id']}").json()["sent_at"] == "2026-03-01T12:30:00.000Z"


def test_validation_errors_name_the_field_and_store_nothing(service):
    before = service.get("/api/messages?limit=1").json()["total"]
    cases = {
        "content": message(content="x" * 70000),
        "direction": message(direction="sideways"),
        "timestamp": message(timestamp="yesterday"),
        "type": message(type="gif"),
        "phone": message(phone="not a phone"),
        "message_id": message(message_id=""),
        "media_url": message(media_url="javascript:alert(1)"),
    }
    for field, body in cases.items():
        r = service.post("/api/messages/capture", json=body)
        assert r.status_code == 422, (field, r.text)
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert error["field"] == field, (field, error)
        assert field in error["message"]
    missing = message()
    del missing["chat_id"]
    r = service.post("/api/messages/capture", json=missing)
    assert r.status_code == 422 and r.json()["error"]["field"] == "chat_id"
    extra = message(unexpected="x")
    assert service.post("/api/messages/capture", json=extra).status_code == 422
    assert service.get("/api/messages?limit=1").json()["total"] == before


def test_content_limit_is_64_kib_of_utf8(service):
    ok = service.post("/api/messages/capture", json=message(content="a" * 65536))
    assert ok.status_code == 201
    too_big = service.post("/api/messages/capture", json=message(content="é" * 40000))  # 80,000 bytes
    assert too_big.status_code == 422 and too_big.json()["error"]["field"] == "content"


def test_malformed_json_is_400(service):
    r = service.post("/api/messages/capture", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = service.post("/api/messages/capture", json=[1, 2])
    assert r.status_code == 422


def test_unknown_message_and_path_are_json_404(service):
    r = service.get("/api/messages/999999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for huge in ("-16447096819075397337438227816508283925", "9223372036854775808", "0", "-1"):
        assert service.get(f"/api/messages/{huge}").status_code == 404, huge
        assert service.get(f"/api/conversations/{huge}").status_code == 404, huge
        assert service.patch(f"/api/conversations/{huge}", json={"status": "lost"}).status_code == 404, huge
    assert service.post("/api/analysis/generate", json={"message_id": 2**64}).status_code == 422
    r = service.get("/api/nothing-here")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")
    r = service.request("DELETE", "/api/health")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_list_messages_filters_and_paginates(service):
    chat = f"{time.time_ns()}@c.us"
    phone = "+55 21 98888 7777"
    ids = []
    for i in range(5):
        r = service.post("/api/messages/capture", json=message(chat_id=chat, phone=phone, content=f"pedido {i}",
                                                               timestamp=f"2026-02-0{i + 1}T10:00:00Z"))
        ids.append(r.json()["id"])
    conversation_id = service.get(f"/api/messages/{ids[0]}").json()["conversation_id"]
    page = service.get(f"/api/messages?conversation_id={conversation_id}&limit=2").json()
    assert page["total"] == 5 and len(page["items"]) == 2
    assert [m["id"] for m in page["items"]] == [ids[4], ids[3]]  # newest first
    page2 = service.get(f"/api/messages?conversation_id={conversation_id}&limit=2&offset=4").json()
    assert [m["id"] for m in page2["items"]] == [ids[0]]
    by_customer = service.get("/api/messages", params={"customer": "21988887777", "since": "2026-02-03T00:00:00Z"})
    assert {m["id"] for m in by_customer.json()["items"]} == set(ids[2:])
    search = service.get("/api/messages", params={"customer": phone, "q": "pedido 1"}).json()
    assert [m["id"] for m in search["items"]] == [ids[1]]
    assert service.get("/api/messages?limit=0").status_code == 422
    assert service.get("/api/messages?since=banana").status_code == 422
    assert service.get("/api/messages?sentiment=angry").status_code == 422


def test_analysis_generate_for_text_and_for_stored_message(service):
    r = service.post("/api/analysis/generate", json={"text": "O produto chegou quebrado, péssimo!"})
    assert r.status_code == 200, r.text
    assert r.json()["sentiment"]["label"] == "negative"
    captured = service.post("/api/messages/capture", json=message(content="Quero cancelar meu pedido")).json()
    r = service.post("/api/analysis/generate", json={"message_id": captured["id"], "engine": "rules"})
    assert r.status_code == 200
    assert r.json()["stored"] is True and r.json()["message_id"] == captured["id"]
    latest = service.get(f"/api/messages/{captured['id']}").json()["analysis"]
    assert latest["id"] == r.json()["id"]
    assert service.post("/api/analysis/generate", json={"message_id": 10**9}).status_code == 404
    assert service.post("/api/analysis/generate", json={}).status_code == 422
    assert service.post("/api/analysis/generate", json={"text": "a", "message_id": 1}).status_code == 422


def test_customer_resolves_from_any_phone_format(service):
    service.post("/api/messages/capture", json=message(phone="(11) 97777-1234", chat_id="5511977771234@c.us",
                                                       name="João"))
    variants = ["(11) 97777-1234", "+55 11 97777 1234", "5511977771234@c.us", "+5511977771234", "11977771234"]
    ids = set()
    for variant in variants:
        r = service.get(f"/api/customers/{variant}")
        assert r.status_code == 200, (variant, r.text)
        ids.add(r.json()["id"])
        assert r.json()["phone"] == "+5511977771234"
    assert len(ids) == 1
    assert service.get("/api/customers/+5511900000001").status_code == 404
    assert service.get("/api/customers/abc").status_code == 422


def test_customer_profile_and_patch(service):
    phone = "+55 31 96666 5555"
    chat = "5531966665555@c.us"
    service.post("/api/messages/capture", json=message(phone=phone, chat_id=chat, content="Adorei, obrigado!"))
    service.post("/api/messages/capture",
                 json=message(phone=phone, chat_id=chat, direction="out", content="Nós que agradecemos"))
    profile = service.get(f"/api/customers/{phone}").json()
    assert profile["message_counts"] == {"inbound": 1, "outbound": 1, "total": 2}
    assert profile["recent_conversations"][0]["chat_id"] == chat
    assert profile["top_intents"] and profile["sentiment_trend"]
    assert profile["first_contact_at"] and profile["last_contact_at"]

    changes = {"name": "Ana Souza", "email": "ana@example.com", "tags": ["vip", "vip", "atacado"],
               "custom_fields": {"cpf": "123"}, "status": "customer"}
    r = service.patch(f"/api/customers/{phone}", json=changes)
    assert r.status_code == 200, r.text
    again = service.get("/api/customers/5531966665555").json()
    assert again["name"] == "Ana Souza" and again["email"] == "ana@example.com"
    assert again["tags"] == ["vip", "atacado"] and again["custom_fields"] == {"cpf": "123"}
    assert again["status"] == "customer"
    assert again["change_seq"] > profile["change_seq"]
    bad = service.patch(f"/api/customers/{phone}", json={"email": "not-an-email"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"
    assert service.patch(f"/api/customers/{phone}", json={"status": "royalty"}).status_code == 422
    assert service.patch("/api/customers/+5511900000002", json={"name": "x"}).status_code == 404
    # A name typed by the user is never replaced by the WhatsApp display name of a later message.
    service.post("/api/messages/capture", json=message(phone=phone, chat_id=chat, name="ana"))
    assert service.get(f"/api/customers/{phone}").json()["name"] == "Ana Souza"


def test_customers_list_and_search(service):
    service.post("/api/messages/capture", json=message(phone="+55 41 95555 0001", chat_id="5541955550001@c.us",
                                                       name="Zélia Procurada"))
    found = service.get("/api/customers", params={"q": "Procurada"}).json()
    assert found["total"] == 1 and found["items"][0]["phone"] == "+5541955550001"
    assert service.get("/api/customers", params={"q": "%"}).json()["total"] == 0  # LIKE wildcards are literal
    page = service.get("/api/customers?limit=1").json()
    assert len(page["items"]) == 1 and page["total"] >= 1


def test_conversations_list_and_status(service):
    body = message(chat_id="conv-test@c.us", phone="+5511955554444")
    created = service.post("/api/messages/capture", json=body).json()
    cid = created["conversation_id"]
    r = service.patch(f"/api/conversations/{cid}", json={"status": "converted"})
    assert r.status_code == 200 and r.json()["status"] == "converted"
    listed = service.get("/api/conversations", params={"status": "converted"}).json()
    assert cid in [c["id"] for c in listed["items"]]
    assert service.get(f"/api/conversations/{cid}").json()["chat_id"] == "conv-test@c.us"
    assert service.patch(f"/api/conversations/{cid}", json={"status": "won"}).status_code == 422
    assert service.patch("/api/conversations/999999", json={"status": "lost"}).status_code == 404


def test_dashboard_metrics_reflect_captures(fresh_service):
    svc = fresh_service
    now = datetime.now(timezone.utc)
    chat, phone = "5511912341234@c.us", "+5511912341234"
    # All three messages must fall on today's local date and at or before the current hour.
    midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    t0 = max(now - timedelta(seconds=100), midnight + timedelta(seconds=1))
    svc.post("/api/messages/capture", json=message(chat_id=chat, phone=phone, timestamp=t0.isoformat(),
                                                   content="O pedido chegou quebrado, estou muito irritado"))
    svc.post("/api/messages/capture", json=message(chat_id=chat, phone=phone,
                                                   timestamp=(t0 + timedelta(seconds=30)).isoformat(),
                                                   content="alô?"))
    svc.post("/api/messages/capture", json=message(chat_id=chat, phone=phone, direction="out",
                                                   timestamp=(t0 + timedelta(seconds=90)).isoformat(),
                                                   content="Sinto muito! Vamos trocar agora."))
    figures = svc.get("/api/metrics/dashboard").json()
    assert figures["messages_today"] == 3
    assert figures["new_customers_today"] == 1
    assert figures["active_conversations"] == 1
    assert figures["avg_response_time_s"] == 90.0  # from the first unanswered inbound message
    assert sum(figures["sentiment_distribution"].values()) == 2  # inbound messages only
    assert figures["sentiment_distribution"]["negative"] >= 1
    assert sum(figures["intent_distribution"].values()) == 2
    assert len(figures["messages_per_hour"]) == 24 and sum(h["count"] for h in figures["messages_per_hour"]) == 3
    for key in ("cpu", "memory", "disk"):
        assert 0 <= figures["system"][key] <= 100
    assert figures["conversion_rate"] == 0.0
    conversation = svc.get("/api/conversations").json()["items"][0]["id"]
    svc.patch(f"/api/conversations/{conversation}", json={"status": "converted"})
    assert svc.get("/api/metrics/dashboard").json()["conversion_rate"] == 1.0


def test_pause_capture_refuses_with_503_and_resume_accepts(fresh_service):
    svc = fresh_service
    assert svc.post("/api/system/capture", json={"paused": True}).json() == {"paused": True}
    r = svc.post("/api/messages/capture", json=message())
    assert r.status_code == 503 and r.json()["error"]["code"] == "capture_paused"
    assert svc.get("/api/health").json()["status"] == "degraded"
    svc.post("/api/system/capture", json={"paused": False})
    assert svc.post("/api/messages/capture", json=message()).status_code == 201


def test_agent_role_cannot_use_admin_endpoints(fresh_service):
    import subprocess
    import sys

    from tests.helpers import ROOT

    subprocess.run([sys.executable, str(ROOT / "agent.py"), "user", "add", "seller", "--role", "agent",
                    "--password-stdin", "--data-dir", str(fresh_service.data_dir)],
                   input="seller-password\n", text=True, check=True, capture_output=True)
    token = fresh_service.post("/api/auth/login", token=None,
                               json={"username": "seller", "password": "seller-password"}).json()["access_token"]
    assert fresh_service.post("/api/messages/capture", token=token, json=message()).status_code == 201
    r = fresh_service.post("/api/system/capture", token=token, json={"paused": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
