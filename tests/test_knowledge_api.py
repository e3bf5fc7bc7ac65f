"""The knowledge base's API on a real service: CRUD, validation, shortcuts, search, roles, CSV, quick replies,
events. The placeholder filling is a pure function, tested without a service first."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from crm.knowledge import fill_placeholders, parse_csv
from tests.helpers import message
from tests.pairing_helpers import as_extension, pair

# -- placeholders (pure) -------------------------------------------------------------------------------------

FULL = {"name": "Ana Souza", "first_name": "Ana", "order": "48213"}


@pytest.mark.parametrize(("text", "filled", "without"), [
    ("Olá {first_name}!", "Olá Ana!", "Olá!"),
    ("Olá, {first_name}!", "Olá, Ana!", "Olá!"),
    ("Oi, {name}, tudo bem?", "Oi, Ana Souza, tudo bem?", "Oi, tudo bem?"),
    ("{first_name}, seu pedido #{order} saiu.", "Ana, seu pedido #48213 saiu.", "Seu pedido saiu."),
    ("O pedido {order} chega amanhã", "O pedido 48213 chega amanhã", "O pedido chega amanhã"),
    ("Obrigado {first_name}", "Obrigado Ana", "Obrigado"),
    ("Linha 1\n{first_name}, veja:\nfim", "Linha 1\nAna, veja:\nfim", "Linha 1\nVeja:\nfim"),
    ("Preço {10} e {outro}", "Preço {10} e {outro}", "Preço {10} e {outro}"),
])
def test_placeholders_are_filled_and_a_missing_value_reads_naturally(text, filled, without):
    assert fill_placeholders(text, FULL) == filled
    assert fill_placeholders(text, {}) == without


def test_a_partly_known_customer_fills_what_is_known():
    assert fill_placeholders("Oi {first_name}, o pedido {order} saiu!", {"first_name": "Ana"}) == \
        "Oi Ana, o pedido saiu!"


# -- CRUD and validation -------------------------------------------------------------------------------------

def _create(service, **fields):
    body = {"title": "Frete para BH", "content": "O frete para BH é R$ 25 e chega em 3 dias úteis.", **fields}
    return service.post("/api/knowledge", json=body)


def test_create_read_patch_delete(service):
    created = _create(service, language="pt", tags=["frete", "bh"], shortcut="/Frete-BH")
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["shortcut"] == "frete-bh" and entry["tags"] == ["frete", "bh"] and entry["language"] == "pt"
    assert set(entry) == {"id", "uid", "title", "content", "language", "tags", "shortcut", "created_at",
                          "updated_at"}
    assert service.get(f"/api/knowledge/{entry['id']}").json() == entry
    patched = service.patch(f"/api/knowledge/{entry['id']}", json={"content": "R$ 30 agora", "language": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["content"] == "R$ 30 agora" and patched.json()["language"] is None
    assert patched.json()["title"] == "Frete para BH"  # untouched
    deleted = service.request("DELETE", f"/api/knowledge/{entry['id']}")
    assert deleted.status_code == 204
    assert service.get(f"/api/knowledge/{entry['id']}").status_code == 404
    assert service.request("DELETE", f"/api/knowledge/{entry['id']}").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("body", "field"), [
    ({"content": "sem título"}, "title"),
    ({"title": "", "content": "x"}, "title"),
    ({"title": "t" * 201, "content": "x"}, "title"),
    ({"title": "t", "content": "c" * 4001}, "content"),
    ({"title": "t", "content": "x", "language": "fr"}, "language"),
    ({"title": "t", "content": "x", "tags": "frete"}, "tags"),
    ({"title": "t", "content": "x", "tags": ["a;b"]}, "tags.0"),
    ({"title": "t", "content": "x", "shortcut": "com espaço"}, "shortcut"),
    ({"title": "t", "content": "x", "shortcut": "a" * 33}, "shortcut"),
    ({"title": "t", "content": "x", "extra": 1}, "extra"),
    ({"title": "   ", "content": "x"}, "title"),
])
def test_validation_errors_are_json_naming_the_field(service, body, field):
    r = service.post("/api/knowledge", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error" and r.json()["error"]["field"] == field


def test_a_shortcut_clash_is_409_with_its_own_code(service):
    first = _create(service, title="Horário", content="Seg a sex, 9h às 18h", shortcut="horario").json()
    clash = _create(service, title="Outro", content="x", shortcut="/HORARIO")
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "shortcut_taken"
    assert clash.json()["error"]["field"] == "shortcut"
    other = _create(service, title="Outro", content="x").json()
    r = service.patch(f"/api/knowledge/{other['id']}", json={"shortcut": "horario"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "shortcut_taken"
    # Its own shortcut again is no clash.
    assert service.patch(f"/api/knowledge/{first['id']}", json={"shortcut": "horario"}).status_code == 200


def test_search_and_paging(fresh_service):
    for i in range(7):
        assert _create(fresh_service, title=f"Produto {i}", content=f"Camiseta tamanho {i}",
                       tags=["roupa"] if i % 2 else []).status_code == 201
    _create(fresh_service, title="Pix", content="Aceitamos Pix e cartão", shortcut="pix")
    page = fresh_service.get("/api/knowledge?q=camiseta&limit=3&offset=0").json()
    assert page["total"] == 7 and len(page["items"]) == 3 and page["limit"] == 3 and page["offset"] == 0
    rest = fresh_service.get("/api/knowledge?q=CAMISETA&limit=3&offset=6").json()["items"]
    assert [e["title"] for e in rest] == ["Produto 6"]
    assert fresh_service.get("/api/knowledge?q=roupa").json()["total"] == 3  # tags are searched
    assert [e["title"] for e in fresh_service.get("/api/knowledge?q=pix").json()["items"]] == ["Pix"]
    assert fresh_service.get("/api/knowledge").json()["total"] == 8
    assert fresh_service.get("/api/knowledge?q=100%25").json()["total"] == 0  # % is literal
    assert fresh_service.get("/api/knowledge?limit=0").status_code == 422


def test_an_extension_token_may_read_and_list_but_not_write(service):
    token = pair(service.url, service.local_token)["token"]
    entry = _create(service, title="Troca", content="Trocas em até 7 dias", shortcut="troca").json()
    headers = as_extension(token)
    assert requests.get(service.url + "/api/knowledge", headers=headers, timeout=10).status_code == 200
    assert requests.get(service.url + f"/api/knowledge/{entry['id']}", headers=headers, timeout=10).json() == entry
    replies = requests.get(service.url + "/api/quick-replies?prefix=tro", headers=headers, timeout=10)
    assert replies.status_code == 200 and replies.json()["items"][0]["shortcut"] == "troca"
    for method, path, body in (("POST", "/api/knowledge", {"title": "x", "content": "y"}),
                               ("PATCH", f"/api/knowledge/{entry['id']}", {"title": "z"}),
                               ("DELETE", f"/api/knowledge/{entry['id']}", None),
                               ("GET", "/api/knowledge/export", None)):
        r = requests.request(method, service.url + path, json=body, headers=headers, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (method, path)
    r = requests.post(service.url + "/api/knowledge/import", data=b"title,content\nx,y\n",
                      headers={**headers, "Content-Type": "text/csv"}, timeout=10)
    assert r.status_code == 403
    assert service.get(f"/api/knowledge/{entry['id']}").json() == entry


def test_every_write_publishes_knowledge_changed(fresh_service):
    ws = websocket.create_connection(f"ws://127.0.0.1:{fresh_service.port}/ws?token={fresh_service.token()}",
                                     timeout=10)
    try:
        entry = _create(fresh_service).json()
        fresh_service.patch(f"/api/knowledge/{entry['id']}", json={"title": "Frete BH"})
        fresh_service.patch(f"/api/knowledge/{entry['id']}", json={"title": "Frete BH"})  # no change: no event
        fresh_service.request("DELETE", f"/api/knowledge/{entry['id']}")
        _import(fresh_service, "title,content\nA,a\nB,b\n")
        received = [json.loads(ws.recv()) for _ in range(4)]
    finally:
        ws.close()
    assert [(e["type"], e["data"]) for e in received] == [
        ("knowledge.changed", {"id": entry["id"], "action": "created"}),
        ("knowledge.changed", {"id": entry["id"], "action": "updated"}),
        ("knowledge.changed", {"id": entry["id"], "action": "deleted"}),
        ("knowledge.changed", {"action": "imported", "created": 2, "updated": 0})]


# -- CSV ----------------------------------------------------------------------------------------------------

def _import(service, text: str | bytes):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return service.post("/api/knowledge/import", data=data, headers={"Content-Type": "text/csv"})


def test_csv_round_trip_keeps_quotes_newlines_commas_and_accents(fresh_service):
    tricky = 'Diga "olá", depois:\nLinha 2; com ponto e vírgula\r\nLinha 3'
    _create(fresh_service, title='Título "com aspas", e vírgula', content=tricky, language="pt",
            tags=["a b", "ç"], shortcut="aspas")
    _create(fresh_service, title="Sem atalho", content="simples")
    exported = fresh_service.get("/api/knowledge/export")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())  # spreadsheets read UTF-8 by the BOM
    assert exported.content.decode("utf-8-sig").splitlines()[0] == "title,content,language,tags,shortcut"
    before = {e["title"]: e for e in fresh_service.get("/api/knowledge").json()["items"]}
    again = _import(fresh_service, exported.content)
    assert again.status_code == 200, again.text
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 2, "errors": []}
    # Into an empty service: the same entries.
    for entry in before.values():
        fresh_service.request("DELETE", f"/api/knowledge/{entry['id']}")
    assert _import(fresh_service, exported.content).json()["created"] == 2
    after = {e["title"]: e for e in fresh_service.get("/api/knowledge").json()["items"]}
    fields = ("title", "content", "language", "tags", "shortcut")
    assert {t: [e[f] for f in fields] for t, e in after.items()} == \
        {t: [e[f] for f in fields] for t, e in before.items()}


def test_csv_import_upserts_and_reports_bad_rows_by_line(fresh_service):
    existing = _create(fresh_service, title="Pix", content="Aceitamos Pix", shortcut="pix").json()
    by_title = _create(fresh_service, title="Horário", content="9h às 18h").json()
    csv_text = ("title,content,language,tags,shortcut\n"
                "Pagamento Pix,Pix com 5% de desconto,pt,pagamento;pix,/PIX\n"  # line 2: updates by shortcut
                "Horário,\"Seg a sex,\n9h às 19h\",pt,,\n"  # lines 3-4: updates by exact title
                ",sem título,pt,,\n"  # line 5: bad
                "Novo,Conteúdo,fr,,\n"  # line 6: bad language
                "Outro,Texto,,,com espaço\n"  # line 7: bad shortcut
                "Entrega,Entregamos em BH,,entrega,entrega\n"  # line 8: created
                "a,b,c\n")  # line 9: wrong column count
    r = _import(fresh_service, "\ufeff" + csv_text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["updated"]) == (1, 2)
    assert [e["line"] for e in body["errors"]] == [5, 6, 7, 9]
    assert "title" in body["errors"][0]["error"] and "language" in body["errors"][1]["error"]
    assert "shortcut" in body["errors"][2]["error"] and "columns" in body["errors"][3]["error"]
    pix = fresh_service.get(f"/api/knowledge/{existing['id']}").json()
    assert pix["title"] == "Pagamento Pix" and pix["tags"] == ["pagamento", "pix"] and pix["shortcut"] == "pix"
    assert fresh_service.get(f"/api/knowledge/{by_title['id']}").json()["content"] == "Seg a sex,\n9h às 19h"
    assert fresh_service.get("/api/knowledge").json()["total"] == 3


def test_csv_import_refuses_what_is_not_such_a_csv(service):
    assert _import(service, "nome,texto\nx,y\n").json()["error"]["field"] == "body"
    assert _import(service, "").status_code == 422
    assert _import(service, b"title,content\n\xff\xfe,x\n").json()["error"]["message"] == "body: must be UTF-8 text"
    semicolons = _import(service, 'title;content;tags\nPonto;Com vírgula, sim;"a;b"\n')  # pt/es spreadsheets
    assert semicolons.status_code == 200 and semicolons.json()["created"] == 1
    assert service.get("/api/knowledge?q=ponto").json()["items"][0]["tags"] == ["a", "b"]
    too_many = "title,content\n" + "".join(f"t{i},c\n" for i in range(5001))
    r = _import(service, too_many)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_rows"
    assert service.get("/api/knowledge?q=t4999").json()["total"] == 0  # nothing of it was kept
    # Above the default body limit (server.max_body_bytes, 256 KiB), under the import's own 4 MiB.
    big = "title,content\n" + "".join(f"grande {i},{'x' * 300}\n" for i in range(2000))
    assert len(big) > 512 * 1024
    r = _import(service, big)
    assert r.status_code == 200 and r.json()["created"] == 2000, r.text[:300]
    huge = service.post("/api/knowledge/import", data=b"x" * (4 * 1024 * 1024 + 1),
                        headers={"Content-Type": "text/csv"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"


def test_parse_csv_numbers_lines_of_records_spanning_lines():
    rows = parse_csv(b'title,content\n"a","1\n2\n3"\nb,2\n\n"c",3\n')
    assert [line for line, _ in rows] == [2, 5, 7]


# -- quick replies --------------------------------------------------------------------------------------------

def test_quick_replies_fill_the_chat_customer_and_order(fresh_service):
    _create(fresh_service, title="Saudação", content="Olá {first_name}! Em que posso ajudar?", shortcut="ola")
    _create(fresh_service, title="Status", content="{first_name}, o pedido #{order} saiu para entrega.",
            shortcut="status")
    _create(fresh_service, title="Sem atalho", content="não aparece")
    chat = "5511988887777@c.us"
    fresh_service.post("/api/messages/capture", json=message(chat_id=chat, phone="+55 11 98888-7777",
                                                             name="Ana Souza", content="Cadê o pedido 48213?"))
    found = fresh_service.get(f"/api/quick-replies?prefix=/&chat_id={chat}").json()["items"]
    assert [(i["shortcut"], i["text"]) for i in found] == [
        ("ola", "Olá Ana! Em que posso ajudar?"), ("status", "Ana, o pedido #48213 saiu para entrega.")]
    assert set(found[0]) == {"id", "shortcut", "title", "text"}
    # A chat nobody wrote in yet, and no chat at all: no name, no order, nothing dangling.
    unknown = fresh_service.get("/api/quick-replies?prefix=ST&chat_id=5511900000001@c.us").json()["items"]
    assert [i["text"] for i in unknown] == ["O pedido saiu para entrega."]
    assert fresh_service.get("/api/quick-replies?prefix=ol").json()["items"][0]["text"] == \
        "Olá! Em que posso ajudar?"
    assert fresh_service.get("/api/quick-replies?prefix=nada").json()["items"] == []
    assert fresh_service.get("/api/quick-replies?prefix=a b").json()["items"] == []


def test_quick_replies_without_a_customer_name(fresh_service):
    _create(fresh_service, title="Saudação", content="Oi, {name}, tudo bem?", shortcut="oi")
    chat = "5511977776666@c.us"
    body = message(chat_id=chat, phone="+55 11 97777-6666", content="oi")
    body.pop("name")
    assert fresh_service.post("/api/messages/capture", json=body).status_code in (200, 201)
    assert fresh_service.get(f"/api/quick-replies?prefix=oi&chat_id={chat}").json()["items"][0]["text"] == \
        "Oi, tudo bem?"
