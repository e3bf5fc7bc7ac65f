"""The capture contract the browser extension relies on (docs/extension-protocol.md, "Capture"):
chats without phones (@lid) and their merge, groups, media, WhatsApp's local times, the batch endpoint,
the panel's GET /api/extension/chat. Against the real service."""

from __future__ import annotations

import http.client
import json
import random
import time

import websocket

from tests.helpers import message

MINUTE_MS = 60_000


def _digits(n: int = 11) -> str:
    return "".join(random.choice("0123456789") for _ in range(n))


def _phone_jid() -> tuple[str, str]:
    """A Brazilian mobile as a @c.us JID and as E.164."""
    number = "55119" + _digits(8)
    return f"{number}@c.us", "+" + number


def _lid() -> str:
    return _digits(15) + "@lid"


def _group() -> str:
    return "1203630" + _digits(11) + "@g.us"


def capture(svc, expect: int = 201, **fields):
    body = message(**fields)
    for key in [k for k, v in body.items() if v is None]:
        del body[key]
    r = svc.post("/api/messages/capture", json=body)
    assert r.status_code == expect, r.text
    return r.json()


def customer(svc, key: str) -> dict:
    r = svc.get(f"/api/customers/{key}")
    assert r.status_code == 200, r.text
    return r.json()


def messages_of(svc, key: str) -> list[dict]:
    r = svc.get("/api/messages", params={"customer": key, "limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


# -- customers from JIDs ---------------------------------------------------------------------------

def test_phone_chat_needs_no_phone_field(service):
    chat, e164 = _phone_jid()
    stored = capture(service, chat_id=chat, phone=None, name="Carla")
    profile = customer(service, e164)
    assert profile["id"] == stored["customer_id"]
    assert profile["kind"] == "phone" and profile["key"] == e164 and profile["name"] == "Carla"
    assert customer(service, chat)["id"] == stored["customer_id"]  # the JID finds it too


def test_chat_id_that_is_not_a_jid_still_needs_phone(service):
    r = service.post("/api/messages/capture", json={k: v for k, v in message(chat_id="legacy-chat-7").items()
                                                     if k != "phone"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "phone"
    assert service.post("/api/messages/capture", json=message(chat_id="legacy-chat-7")).status_code == 201


def test_malformed_jids_are_422_naming_the_field(service):
    r = service.post("/api/messages/capture", json=message(chat_id=_group(), phone=None, participant="abc@lid"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "participant"
    body = message(chat_id=_group(), participant=None)
    del body["phone"]
    r = service.post("/api/messages/capture", json=body)
    assert r.status_code == 422 and r.json()["error"]["field"] == "participant"
    for field, value in (("utc_offset_min", 5000), ("locale", "not a locale!"), ("pre_plain_text", "x" * 600)):
        r = service.post("/api/messages/capture", json=message(**{field: value}))
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_lid_chat_is_keyed_by_its_jid(service):
    lid = _lid()
    first = capture(service, chat_id=lid, phone=None, name="Bruna", content="Oi, tem em azul?")
    capture(service, chat_id=lid, phone=None, direction="out", content="Tem sim!", chat_name="Bruna")
    profile = customer(service, lid)
    assert profile["id"] == first["customer_id"]
    assert profile["kind"] == "lid" and profile["key"] == lid and profile["phone"] == lid
    assert profile["message_counts"] == {"inbound": 1, "outbound": 1, "total": 2}
    assert len(messages_of(service, lid)) == 2
    kinds = service.get("/api/customers", params={"kind": "lid", "q": lid}).json()["items"]
    assert [c["key"] for c in kinds] == [lid]


def test_lid_merges_into_a_new_phone_customer_when_the_phone_arrives(service):
    lid = _lid()
    _, e164 = _phone_jid()
    now = int(time.time() * 1000)
    first = capture(service, chat_id=lid, phone=None, name="Davi", timestamp=now - 3 * MINUTE_MS)
    capture(service, chat_id=lid, phone=None, direction="out", timestamp=now - 2 * MINUTE_MS)
    merged = capture(service, chat_id=lid, phone=e164, name="Davi", timestamp=now - MINUTE_MS)
    assert merged["customer_id"] == first["customer_id"]  # re-keyed: the same customer, now by phone
    profile = customer(service, e164)
    assert profile["kind"] == "phone" and profile["key"] == e164
    assert profile["message_counts"] == {"inbound": 2, "outbound": 1, "total": 3}
    assert len(messages_of(service, e164)) == 3
    assert customer(service, lid)["id"] == profile["id"]  # the old key leads to the phone customer
    assert service.get("/api/customers", params={"kind": "lid", "q": lid}).json()["total"] == 0
    # A later capture of the chat without the phone still lands on the phone customer.
    later = capture(service, chat_id=lid, phone=None, timestamp=now)
    assert later["customer_id"] == profile["id"]
    assert customer(service, e164)["message_counts"]["total"] == 4
    assert service.get("/api/customers", params={"q": lid}).json()["total"] == 0


def test_lid_merges_into_an_existing_phone_customer(service):
    lid = _lid()
    chat, e164 = _phone_jid()
    now = int(time.time() * 1000)
    known = capture(service, chat_id=chat, phone=None, name="Elisa Prado", content="pedido 1",
                    timestamp=now - 10 * MINUTE_MS)
    capture(service, chat_id=chat, phone=None, direction="out", content="ok", timestamp=now - 9 * MINUTE_MS)
    hidden = capture(service, chat_id=lid, phone=None, name="Elisa", content="sou eu de novo",
                     timestamp=now - 20 * MINUTE_MS)
    capture(service, chat_id=lid, phone=None, content="alô?", timestamp=now - 5 * MINUTE_MS)
    assert service.patch(f"/api/customers/{lid}", json={"tags": ["vip"]}).status_code == 200
    assert hidden["customer_id"] != known["customer_id"]

    merged = capture(service, chat_id=lid, phone=e164, content="meu número apareceu", timestamp=now)
    assert merged["customer_id"] == known["customer_id"]
    profile = customer(service, e164)
    assert profile["message_counts"] == {"inbound": 4, "outbound": 1, "total": 5}
    assert profile["name"] == "Elisa Prado"  # the target's own name is kept
    assert profile["tags"] == ["vip"]  # taken from the lid customer: the target had none
    assert profile["first_contact_at"] == _iso(now - 20 * MINUTE_MS)
    assert profile["last_contact_at"] == _iso(now)
    assert {m["message_id"] for m in messages_of(service, e164)} >= {known_message_id(service, hidden["id"])}
    assert len(messages_of(service, e164)) == 5
    assert len(messages_of(service, lid)) == 5  # the lid key is an alias now
    chats = {c["chat_id"] for c in profile["recent_conversations"]}
    assert chats == {chat, lid}
    assert customer(service, lid)["id"] == known["customer_id"]


def known_message_id(svc, pk: int) -> str:
    return svc.get(f"/api/messages/{pk}").json()["message_id"]


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def test_group_messages(service):
    group = _group()
    member_chat, member_e164 = _phone_jid()
    member_lid = _lid()
    received = capture(service, chat_id=group, phone=None, participant=member_chat, name="Fábio",
                       chat_name="Vendas Zona Sul", content="Quanto custa a entrega?")
    hidden = capture(service, chat_id=group, phone=None, participant=member_lid, name="Gi",
                     chat_name="Vendas Zona Sul", content="Eu também quero saber")
    sent = capture(service, chat_id=group, phone=None, direction="out", chat_name="Vendas Zona Sul",
                   content="R$ 10 para a zona sul")
    assert received["conversation_id"] == hidden["conversation_id"] == sent["conversation_id"]
    fabio, gi, group_customer = customer(service, member_e164), customer(service, member_lid), customer(service, group)
    assert (fabio["id"], fabio["kind"], fabio["name"]) == (received["customer_id"], "phone", "Fábio")
    assert (gi["id"], gi["kind"], gi["name"]) == (hidden["customer_id"], "lid", "Gi")
    assert (group_customer["id"], group_customer["kind"]) == (sent["customer_id"], "group")
    assert group_customer["name"] == "Vendas Zona Sul"
    assert group_customer["message_counts"] == {"inbound": 0, "outbound": 1, "total": 1}
    conversation = service.get(f"/api/conversations/{sent['conversation_id']}").json()
    assert conversation["chat_id"] == group and conversation["customer_id"] == group_customer["id"]
    assert conversation["message_count"] == 3


def test_a_group_is_not_counted_as_a_customer(fresh_service):
    svc = fresh_service
    capture(svc, chat_id=_phone_jid()[0], phone=None)
    before = svc.get("/api/metrics/dashboard").json()
    group = _group()
    capture(svc, chat_id=group, phone=None, direction="out", chat_name="Equipe")
    capture(svc, chat_id=group, phone=None, participant=_lid(), chat_name="Equipe")
    after = svc.get("/api/metrics/dashboard").json()
    assert before["total_customers"] == 1 and before["new_customers_today"] == 1
    assert after["total_customers"] == 2  # the @lid participant, not the group
    assert after["new_customers_today"] == 2


def test_media_with_caption_and_without(service):
    chat, _ = _phone_jid()
    photo = capture(service, chat_id=chat, phone=None, type="image", content="Foto do produto que chegou")
    voice = capture(service, chat_id=chat, phone=None, type="audio", content="")
    sticker = capture(service, chat_id=chat, phone=None, type="sticker", content="", direction="out")
    for created, kind, content in ((photo, "image", "Foto do produto que chegou"), (voice, "audio", ""),
                                   (sticker, "sticker", "")):
        stored = service.get(f"/api/messages/{created['id']}").json()
        assert (stored["type"], stored["content"]) == (kind, content)
        assert stored["analysis"]["sentiment"]["label"] in ("positive", "neutral", "negative")


def test_sent_at_comes_from_pre_plain_text(service):
    chat, _ = _phone_jid()
    seen = int(time.time() * 1000)
    cases = [
        ("[10:32, 05/12/2024] Ana: ", "pt-BR", -180, "2024-12-05T13:32:00.000Z"),
        ("[10:32 PM, 12/5/2024] Bob: ", "en-US", -300, "2024-12-06T03:32:00.000Z"),
        ("[10:32 p. m., 4/12/2024] Luis: ", "es-ES", 60, "2024-12-04T21:32:00.000Z"),
        ("[not a date] Ana: ", "pt-BR", -180, _iso(seen)),
    ]
    for text, locale, offset, expected in cases:
        created = capture(service, chat_id=chat, phone=None, name=None, timestamp=seen, pre_plain_text=text,
                          locale=locale, utc_offset_min=offset)
        stored = service.get(f"/api/messages/{created['id']}").json()
        assert stored["sent_at"] == expected, text
    # The sender's name from the text fills a missing name.
    assert customer(service, chat)["name"] == "Ana"
    # Same minute: the timestamp, which has seconds, is kept.
    local = time.gmtime(seen // 1000 - 180 * 60)
    text = f"[{local.tm_hour:02d}:{local.tm_min:02d}, {local.tm_mday:02d}/{local.tm_mon:02d}/{local.tm_year}] Ana: "
    created = capture(service, chat_id=chat, phone=None, timestamp=seen, pre_plain_text=text, locale="pt-BR",
                      utc_offset_min=-180)
    assert service.get(f"/api/messages/{created['id']}").json()["sent_at"] == _iso(seen)


def test_message_captured_event_carries_chat_id(service):
    lid = _lid()
    ws = websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws?token={service.token()}", timeout=10)
    try:
        created = capture(service, chat_id=lid, phone=None)
        event = json.loads(ws.recv())
    finally:
        ws.close()
    assert event["type"] == "message.captured" and event["data"]["id"] == created["id"]
    assert event["data"]["chat_id"] == lid
    assert event["data"]["customer_phone"] == lid and event["data"]["customer_kind"] == "lid"


# -- the batch endpoint ------------------------------------------------------------------------------

def test_batch_of_500_mixed_items_answers_each_in_order(service):
    chat, _ = _phone_jid()
    stored_before = [message(chat_id=chat, phone=None, content=f"antes {i}") for i in range(20)]
    for body in stored_before:
        assert service.post("/api/messages/capture", json=body).status_code == 201
    items, expected = [], []
    for i in range(500):
        if i % 25 == 0:  # 20 replays of stored messages
            items.append(stored_before[i // 25])
            expected.append(200)
        elif i % 25 == 1:  # 20 invalid items, each in its own way
            bad = [message(direction="sideways"), message(chat_id="plain", phone=None), message(timestamp=-5),
                   "not an object", message(utc_offset_min=99999)][(i // 25) % 5]
            if isinstance(bad, dict) and bad.get("phone") is None:
                bad = {k: v for k, v in bad.items() if k != "phone"}
            items.append(bad)
            expected.append(422)
        elif i % 25 == 2 and i > 25:  # 19 copies of an item earlier in this batch
            items.append(items[i - 25 + 3])
            expected.append(200)
        else:
            items.append(message(chat_id=chat, phone=None, content=f"lote {i}", type="image" if i % 7 == 0 else "text"))
            expected.append(201)
    r = service.post("/api/messages/capture/batch", json={"messages": items})
    assert r.status_code == 200, r.text[:500]
    results = r.json()["results"]
    assert [res["status"] for res in results] == expected
    fields = [res["error"]["field"] for res in results if res["status"] == 422]
    assert set(fields) == {"direction", "phone", "timestamp", "body", "utc_offset_min"}
    for item, res in zip(items, results, strict=True):
        if res["status"] == 201:
            assert res["duplicate"] is False
            # One chat, all inbound: the newest is analysed at once, the older ones after the answer.
            if item is items[max(i for i, s in enumerate(expected) if s == 201)]:
                assert res["analysis"]["sentiment"]["label"] and "analysis_pending" not in res
            else:
                assert res["analysis"] is None and res["analysis_pending"] is True
            stored = service.get(f"/api/messages/{res['id']}").json()
            assert stored["message_id"] == item["message_id"] and stored["content"] == item["content"]
        elif res["status"] == 200:
            assert res["duplicate"] is True and res["id"] >= 1
    # In-batch copies answer with the id of the copy that was stored.
    by_message = {items[i]["message_id"]: res["id"] for i, res in enumerate(results) if res["status"] == 201}
    for i, res in enumerate(results):
        if expected[i] == 200 and i % 25 == 2:
            assert res["id"] == by_message[items[i]["message_id"]]
    assert customer(service, chat)["message_counts"]["total"] == 20 + expected.count(201)
    again = service.post("/api/messages/capture/batch", json={"messages": items}).json()["results"]
    assert [res["status"] for res in again] == [422 if s == 422 else 200 for s in expected]


def test_batch_envelope_errors(service):
    r = service.post("/api/messages/capture/batch", json={"messages": [message() for _ in range(501)]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "messages"
    r = service.post("/api/messages/capture/batch", json={"messages": []})
    assert r.status_code == 422 and r.json()["error"]["field"] == "messages"
    r = service.post("/api/messages/capture/batch", json={"messages": [message()], "extra": 1})
    assert r.status_code == 422 and r.json()["error"]["field"] == "extra"
    r = service.post("/api/messages/capture/batch", json=[message()])
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"
    r = service.post("/api/messages/capture/batch", data=b'{"messages": [',
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_batch_body_limit_is_8_mib(service):
    chat, _ = _phone_jid()
    big = [message(chat_id=chat, phone=None, content="x" * 60_000) for _ in range(10)]  # ~600 KB
    assert service.post("/api/messages/capture", json={"messages": big}).status_code == 413  # the usual limit
    r = service.post("/api/messages/capture/batch", json={"messages": big})
    assert r.status_code == 200 and [res["status"] for res in r.json()["results"]] == [201] * 10
    # Over 8 MiB: refused from Content-Length alone, before the body is read (so none is sent here).
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.putrequest("POST", "/api/messages/capture/batch")
        for name, value in (("Authorization", f"Bearer {service.token()}"), ("Content-Type", "application/json"),
                            ("Content-Length", str(8 * 1024 * 1024 + 1))):
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "payload_too_large"
    finally:
        conn.close()


def test_batch_while_capture_is_paused(fresh_service):
    svc = fresh_service
    svc.post("/api/system/capture", json={"paused": True})
    r = svc.post("/api/messages/capture/batch", json={"messages": [message(), message()]})
    assert r.status_code == 200 and r.headers["Retry-After"]
    assert [(res["status"], res["error"]["code"]) for res in r.json()["results"]] == [(503, "capture_paused")] * 2
    svc.post("/api/system/capture", json={"paused": False})
    r = svc.post("/api/messages/capture/batch", json={"messages": [message(), message()]})
    assert [res["status"] for res in r.json()["results"]] == [201, 201]


def test_concurrent_batches_store_each_message_once(service):
    from concurrent.futures import ThreadPoolExecutor

    import requests

    chat, e164 = _phone_jid()
    items = [message(chat_id=chat, phone=None, content=f"c{i}") for i in range(300)]
    token = service.token()

    def post(offset: int) -> list[int]:
        # Overlapping windows: every message is sent by two requests at once.
        body = {"messages": items[offset:offset + 200]}
        r = requests.post(service.url + "/api/messages/capture/batch", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {token}"})
        return [res["status"] for res in r.json()["results"]]

    with ThreadPoolExecutor(4) as pool:
        statuses = [status for statuses in pool.map(post, [0, 100, 0, 100]) for status in statuses]
    assert statuses.count(201) == 300 and statuses.count(200) == 500
    assert customer(service, e164)["message_counts"]["total"] == 300


# -- the panel --------------------------------------------------------------------------------------

def test_extension_chat_shapes(service):
    unknown = service.get("/api/extension/chat", params={"chat_id": _lid()}).json()
    assert unknown["customer"] is None and unknown["conversation"] is None and unknown["latest"] is None
    assert service.get("/api/extension/chat").status_code == 422

    chat, e164 = _phone_jid()
    capture(service, chat_id=chat, phone=None, name="Helena", content="Quero cancelar, o produto veio quebrado")
    last_in = capture(service, chat_id=chat, phone=None, content="Vocês fazem troca?")
    capture(service, chat_id=chat, phone=None, direction="out", content="Fazemos sim")
    panel = service.get("/api/extension/chat", params={"chat_id": chat}).json()
    assert panel["chat_id"] == chat
    assert panel["customer"] == {"id": last_in["customer_id"], "key": e164, "kind": "phone", "phone": e164,
                                 "name": "Helena", "tags": [], "status": "lead",
                                 "first_contact_at": panel["customer"]["first_contact_at"], "message_count": 3}
    assert panel["conversation"] == {"id": last_in["conversation_id"], "status": "open", "message_count": 3}
    latest = panel["latest"]
    assert latest["id"] == last_in["id"] and latest["preview"] == "Vocês fazem troca?"
    assert set(latest["analysis"]) >= {"sentiment", "intent", "confidence", "suggested_responses", "engine"}
    assert latest["analysis"]["suggested_responses"] == last_in["analysis"]["suggested_responses"]

    lid = _lid()
    capture(service, chat_id=lid, phone=None, direction="out", content="Olá!", chat_name="Íris")
    panel = service.get("/api/extension/chat", params={"chat_id": lid}).json()
    assert panel["customer"]["phone"] is None and panel["customer"]["key"] == lid
    assert panel["customer"]["name"] == "Íris" and panel["latest"] is None  # nothing received yet

    group = _group()
    capture(service, chat_id=group, phone=None, participant=chat, chat_name="Clientes VIP", content="Bom dia")
    panel = service.get("/api/extension/chat", params={"chat_id": group}).json()
    assert panel["customer"]["kind"] == "group" and panel["customer"]["name"] == "Clientes VIP"
    assert panel["latest"]["preview"] == "Bom dia"


def test_extension_routes_are_marked_for_extension_tokens():
    import bottle

    from api.app import RouteTable
    from api.routes import ROUTES

    app = bottle.Bottle()
    RouteTable(app).add_all(ROUTES)
    marked = {(r.method, r.rule) for r in app.routes if "extension" in r.config["roles"]}
    assert {("POST", "/api/messages/capture"), ("POST", "/api/messages/capture/batch"),
            ("GET", "/api/extension/chat")} <= marked
    assert ("GET", "/api/customers") not in marked


def test_a_lid_participant_merges_when_its_phone_comes_along(service):
    group, member_lid = _group(), _lid()
    _, e164 = _phone_jid()
    first = capture(service, chat_id=group, phone=None, participant=member_lid, name="Ivo", chat_name="Equipe")
    merged = capture(service, chat_id=group, phone=e164, participant=member_lid, chat_name="Equipe")
    assert merged["customer_id"] == first["customer_id"]
    assert customer(service, e164)["message_counts"]["inbound"] == 2
    assert customer(service, member_lid)["key"] == e164
    sent = capture(service, chat_id=group, phone=None, direction="out", chat_name="Equipe")
    assert [m["id"] for m in messages_of(service, group)] == [sent["id"]]  # the group's own: sent messages


def test_customer_keys_from_jids():
    import pytest

    from crm.customer_keys import CustomerKeyError, capture_customer, lookup_key, parse_jid

    def resolve(**fields):
        base = {"chat_id": "5511999990000@c.us", "phone": None, "participant": None, "direction": "in",
                "name": "Ana", "chat_name": "Ana S.", "default_region": "BR"}
        return capture_customer(**{**base, **fields})

    assert resolve()[0].key == "+5511999990000"
    assert resolve(chat_id="5511999990000:12@s.whatsapp.net")[0].key == "+5511999990000"
    assert resolve(chat_id="123456789012345@lid")[0].key == "123456789012345@lid"
    lid_with_phone = resolve(chat_id="123456789012345@lid", phone="(11) 98888-7777")[0]
    assert (lid_with_phone.key, lid_with_phone.merge_from) == ("+5511988887777", "123456789012345@lid")
    member, group = resolve(chat_id="120363000000000001@g.us", participant="5521988887777@c.us")
    assert (member.key, member.name, group.key, group.kind, group.name) == (
        "+5521988887777", "Ana", "120363000000000001@g.us", "group", "Ana S.")
    assert resolve(chat_id="5511999990000-1600000000@g.us", direction="out")[0].kind == "group"
    assert resolve(direction="out")[0].name == "Ana S."  # sent: the chat's title names the contact
    for fields, field in (({"chat_id": "x"}, "phone"), ({"chat_id": "1@c.us"}, "phone"),
                          ({"chat_id": "12345@c.us"}, "chat_id"),
                          ({"chat_id": "120363000000000001@g.us"}, "participant"),
                          ({"chat_id": "120363000000000001@g.us", "participant": "120363000000000002@g.us"},
                           "participant"), ({"chat_id": "123456789012345@lid", "phone": "abc"}, "phone")):
        with pytest.raises(CustomerKeyError) as raised:
            resolve(**fields)
        assert raised.value.field == field, fields
    assert parse_jid("12345-678@c.us") is None and parse_jid("status@broadcast") is None
    assert lookup_key("(11) 98888-7777", "BR") == "+5511988887777"
    assert lookup_key("123456789012345@lid", "BR") == "123456789012345@lid"


def test_a_migration_numbered_below_the_recorded_version_is_still_applied(tmp_path, monkeypatch):
    """Branches add migrations 4 and 5 in parallel: a database that got 5 first must still receive 4."""
    from storage import migrations
    from storage.database import Database, sqlite_url

    def creates(table: str):
        return lambda db: db.execute(f"CREATE TABLE {table} (x INTEGER)")

    first, later, second = (1, "one", creates("one")), (2, "two, merged later", creates("two")), (3, "three",
                                                                                                  creates("three"))
    db = Database(sqlite_url(tmp_path / "m.db"))
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [first, second])
        assert migrations.migrate(db, "2026-12-07T00:00:00.000Z") == 3
        monkeypatch.setattr(migrations, "MIGRATIONS", [first, later, second])
        assert migrations.migrate(db, "2026-12-07T00:00:00.000Z") == 3
        assert db.scalar("SELECT COUNT(*) FROM two") == 0
        assert [r["version"] for r in db.all("SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3]
        assert migrations.migrate(db, "2026-12-07T00:00:00.000Z") == 3  # nothing left to apply
    finally:
        db.close()


def test_a_batch_asks_the_llm_to_follow_up_only_each_chats_newest_inbound(tmp_path):
    """A history import must not fill the LLM queue with old messages: the panel shows the newest one."""
    from ai.builtin import BuiltinAnalyzer
    from ai.worker_client import QueueFull
    from api.schemas import CaptureRequest
    from core.clock import Clock
    from core.events import EventBus
    from crm.analysis import AnalysisCoordinator
    from crm.capture import CapturePipeline
    from storage.database import Database, sqlite_url
    from storage.migrations import migrate

    class FakeWorker:
        state = "ready"

        def __init__(self) -> None:
            self.submitted: list[str] = []

        def on_state_change(self, callback) -> None:
            pass

        def submit(self, text, language, context, replies):
            self.submitted.append(text)
            raise QueueFull("no LLM in this test: counting what is asked is enough")

    db = Database(sqlite_url(tmp_path / "f.db"))
    migrate(db, "2026-12-07T00:00:00.000Z")
    worker, bus, clock = FakeWorker(), EventBus(100), Clock()
    coordinator = AnalysisCoordinator(BuiltinAnalyzer(), worker, "auto", db, bus, clock)
    pipeline = CapturePipeline(db, coordinator.analyse_capture_batch, bus, clock, "BR",
                               after_capture=coordinator.follow_up)
    now = int(time.time() * 1000)
    a, b = "5511911110000@c.us", _lid()
    bodies = [message(chat_id=a, phone=None, content=f"a{i}", timestamp=now - (10 - i) * MINUTE_MS) for i in range(5)]
    bodies += [message(chat_id=b, phone=None, content="b-new", timestamp=now),
               message(chat_id=b, phone=None, content="b-old", timestamp=now - 60 * MINUTE_MS),
               message(chat_id=b, phone=None, content="b-out", direction="out", timestamp=now + 1000)]
    try:
        outcomes = pipeline.capture_many([CaptureRequest.model_validate(body) for body in bodies])
        assert all(created for _, created in outcomes)
        assert sorted(worker.submitted) == ["a4", "b-new"]
        pipeline.capture(CaptureRequest.model_validate(message(chat_id=a, phone=None, content="live")))
        assert worker.submitted[-1] == "live"  # a single capture is always followed up
    finally:
        db.close()


def test_a_history_batch_alerts_once_per_chat_on_negative_messages(tmp_path):
    from tests.helpers import start_service

    svc = start_service(tmp_path / "agent", config={"monitor": {"alert_on_negative": True}})
    try:
        ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.token()}", timeout=10)
        angry = "Péssimo atendimento, estou muito insatisfeito, quero cancelar e reclamar no Procon!"
        now = int(time.time() * 1000)
        chat_a, chat_b = _phone_jid()[0], _lid()
        items = [message(chat_id=chat_a, phone=None, content=angry, timestamp=now - i * MINUTE_MS) for i in range(6)]
        items += [message(chat_id=chat_b, phone=None, content=angry, timestamp=now - i * MINUTE_MS) for i in range(3)]
        results = svc.post("/api/messages/capture/batch", json={"messages": items}).json()["results"]
        # Each chat's newest message is analysed at once; the older ones are analysed after the answer.
        assert [r["analysis"]["sentiment"]["label"] for r in (results[0], results[6])] == ["negative"] * 2
        assert all(r["analysis"] is None and r["analysis_pending"] for i, r in enumerate(results) if i not in (0, 6))
        svc.post("/api/messages/capture", json=message(chat_id=chat_a, phone=None, content="ok", direction="out"))
        seen = []
        while not (seen and seen[-1]["type"] == "message.captured" and seen[-1]["data"]["direction"] == "out"):
            seen.append(json.loads(ws.recv()))
        ws.close()
        alerts = [e["data"]["message_id"] for e in seen if e["type"] == "alert.raised"
                  and e["data"]["kind"] == "negative_message"]
        assert sorted(alerts) == sorted([results[0]["id"], results[6]["id"]])  # each chat's newest only
    finally:
        svc.stop()


def test_a_batch_with_replays_commits_in_one_transaction(fresh_service):
    # The extension re-sends what it is not sure was stored (a reload, a lost answer): replays sit beside new
    # messages in one batch, and must not break the batch's shared commit into one transaction per message.
    svc = fresh_service
    first = message()
    assert svc.post("/api/messages/capture", json=first).status_code == 201
    batch = [first, message(), message()]
    results = svc.post("/api/messages/capture/batch", json={"messages": batch}).json()["results"]
    assert [(r["status"], r["duplicate"]) for r in results] == [(200, True), (201, False), (201, False)]
    log = svc.log_text()
    assert "writing them one by one" not in log
