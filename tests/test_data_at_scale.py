"""Data at scale (issue 17): the latest analysis on the message row, keyset pages, capped totals, full-text search,
migrations 15 and 16 on an existing database. Real service, real SQLite files; the test process writes to the
service's file through storage/ (as the LLM follow-up, an edit or the retention job would) on a connection of its own.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from storage import customers as customer_rows
from storage import messages as message_rows
from storage.database import Database, sqlite_url
from storage.migrations import MIGRATIONS, current_version
from storage.retention import delete_old_messages
from tests.helpers import message, start_service

NOW = "2026-03-01T12:00:00.000Z"
HOSTILE = ['"', "*", "NEAR(", "a OR", "OR", "a AND", "(", ")", "-x", "^x", "content:x", "x:", '""', "'", "\\",
           "NEAR(a b, 2)", "a NOT b", "{content}: x", "%", "_", "ação*", "🙂", "\x00", "a" * 500]


@contextmanager
def side_db(svc):
    """A second connection to the service's database file, as another writer of the same process would use."""
    db = Database(sqlite_url(svc.data_dir / "crm_agent.db"))
    try:
        yield db
    finally:
        db.close()


def analysis(sentiment: str, intent: str) -> dict:
    return {"sentiment": {"label": sentiment, "score": 0.5}, "intent": {"label": intent, "confidence": 0.9},
            "suggested_responses": [], "confidence_scores": {}, "model_version": "llm-test", "engine": "llm"}


def ids_of(svc, **params) -> list[int]:
    reply = svc.get("/api/messages", params={"limit": 200, **params})
    assert reply.status_code == 200, reply.text
    return [item["id"] for item in reply.json()["items"]]


def capture(svc, **fields) -> int:
    reply = svc.post("/api/messages/capture", json=message(**fields))
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def test_sentiment_and_intent_filters_follow_the_latest_analysis(service):
    chat = f"55119{time.time_ns() % 10**8:08d}@c.us"
    pk = capture(service, chat_id=chat, content="Oi, quanto custa o plano mensal?")
    first = service.get(f"/api/messages/{pk}").json()["analysis"]
    assert pk in ids_of(service, sentiment=first["sentiment"]["label"], intent=first["intent"]["label"])
    # The LLM follow-up's storage call (crm/analysis.py _store_follow_up), from another connection.
    other = "negative" if first["sentiment"]["label"] != "negative" else "positive"
    with side_db(service) as db, db.transaction():
        message_rows.insert_analysis(db, pk, analysis(other, "cancellation"), NOW)
    assert pk in ids_of(service, sentiment=other, intent="cancellation")
    assert pk not in ids_of(service, sentiment=first["sentiment"]["label"])
    assert pk not in ids_of(service, intent=first["intent"]["label"]) or first["intent"]["label"] == "cancellation"
    # A re-analysis through the API (another insert_analysis caller) moves it back.
    reply = service.post("/api/analysis/generate", json={"message_id": pk, "engine": "rules"})
    assert reply.status_code == 200, reply.text
    latest = reply.json()
    assert pk in ids_of(service, sentiment=latest["sentiment"]["label"], intent=latest["intent"]["label"])


def test_keyset_pages_walk_the_whole_list_once_while_captures_arrive(service):
    phone = f"+55 21 9{time.time_ns() % 10**8:08d}"
    chat = phone.replace(" ", "").lstrip("+") + "@c.us"
    base = int(time.time() * 1000) - 10 * 86_400_000
    # Ties on sent_at too: the keyset orders by (sent_at, id).
    stored = [capture(service, chat_id=chat, phone=phone, content=f"mensagem {i}", timestamp=base + (i // 3) * 1000)
              for i in range(40)]
    seen: list[int] = []
    arriving: list[int] = []
    before = None
    pages = 0
    while True:
        params = {"customer": phone, "limit": 7, **({"before": before} if before else {})}
        page = service.get("/api/messages", params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        # Captures arrive between pages, newer and older than the page just read.
        arriving.append(capture(service, chat_id=chat, phone=phone, content="nova", timestamp=base + 86_400_000))
        arriving.append(capture(service, chat_id=chat, phone=phone, content="antiga", timestamp=base - 86_400_000 * 3))
        before = page["next"]
        if before is None:
            break
        assert pages < 40
    assert len(seen) == len(set(seen)), "a message was listed twice"
    assert set(stored) <= set(seen), "a message was skipped"
    assert seen == sorted(seen, key=lambda pk: (service.get(f"/api/messages/{pk}").json()["sent_at"], pk),
                          reverse=True)
    # The old offset pages still work for the clients that use them.
    assert service.get("/api/messages", params={"customer": phone, "limit": 5, "offset": 5}).status_code == 200
    gone = service.get("/api/messages", params={"customer": phone, "before": 10**12})
    assert gone.status_code == 422 and gone.json()["error"]["field"] == "before"


def test_total_is_capped_on_a_large_list(fresh_service):
    svc = fresh_service
    pk = capture(svc)
    row = svc.get(f"/api/messages/{pk}").json()
    with side_db(svc) as db, db.transaction():
        db.executemany(
            "INSERT INTO messages (message_id, conversation_id, customer_id, direction, type, content, sent_at, "
            "created_at, updated_at, change_seq) VALUES (:m, :c, :cu, 'in', 'text', 'lote', :t, :t, :t, 1)",
            [{"m": f"wamid.BULK{i}", "c": row["conversation_id"], "cu": row["customer_id"], "t": NOW}
             for i in range(10_050)])
    page = svc.get("/api/messages", params={"limit": 5}).json()
    assert page["total"] == 10_000 and page["total_capped"] is True and page["next"] is not None
    small = svc.get("/api/messages", params={"q": "lote", "limit": 5}).json()
    assert small["total_capped"] is True
    exact = svc.get("/api/messages", params={"customer": row["customer"]["phone"], "direction": "out"}).json()
    assert exact["total"] == 0 and exact["total_capped"] is False


def test_next_is_none_on_a_full_last_page(service):
    """A list whose length is a multiple of the page size ends on a full page: `next` must not lead to an empty one
    (the windows' Next button follows it, and a capped total cannot say where the list ends)."""
    phone = f"+55 31 9{time.time_ns() % 10**8:08d}"
    chat = phone.replace(" ", "").lstrip("+") + "@c.us"
    tag = f"fullpage{time.time_ns() % 10**9}"
    for i in range(10):
        capture(service, chat_id=chat, phone=phone, content=f"{tag} {i}")
    first = service.get("/api/messages", params={"customer": phone, "limit": 5}).json()
    assert len(first["items"]) == 5 and first["next"] is not None
    last = service.get("/api/messages", params={"customer": phone, "limit": 5, "before": first["next"]}).json()
    assert len(last["items"]) == 5 and last["next"] is None
    found = service.get("/api/messages", params={"q": tag, "limit": 5}).json()
    assert len(found["items"]) == 5 and found["next"] is not None
    rest = service.get("/api/messages", params={"q": tag, "limit": 5, "before": found["next"]}).json()
    assert len(rest["items"]) == 5 and rest["next"] is None


def test_search_folds_accents_and_case_and_follows_edits_and_deletes(service):
    tag = f"zq{time.time_ns() % 10**9}"
    pk = capture(service, content=f"Quero uma AÇÃO rápida no pedido {tag}")
    assert pk in ids_of(service, q=f"acao {tag}")
    assert pk in ids_of(service, q=f"Rapida {tag.upper()}")
    assert pk in ids_of(service, q=f"{tag} ped*")  # a word's beginning, when asked for with "*"
    assert pk not in ids_of(service, q=f"{tag} ped")  # otherwise words match whole
    assert pk not in ids_of(service, q=f"{tag} cancelamento")  # every word must match
    with side_db(service) as db, db.transaction():
        db.execute("UPDATE messages SET content = :c WHERE id = :id", {"c": f"Promoção de inverno {tag}", "id": pk})
    assert pk not in ids_of(service, q=f"acao {tag}")
    assert pk in ids_of(service, q=f"promocao {tag}")
    old = capture(service, content=f"mensagem velha {tag}", timestamp="2020-01-01T00:00:00Z")
    assert old in ids_of(service, q=f"velha {tag}")
    with side_db(service) as db:
        assert delete_old_messages(db, "2020-06-01T00:00:00.000Z", NOW) >= 1  # the retention job's purge
    assert ids_of(service, q=f"velha {tag}") == []
    assert pk in ids_of(service, q=tag)


def test_customer_search_by_name_folds_accents_and_follows_renames(service):
    tag = f"Zé{time.time_ns() % 10**9}"
    phone = f"+55 31 9{time.time_ns() % 10**8:08d}"
    capture(service, phone=phone, chat_id=phone.replace(" ", "").lstrip("+") + "@c.us", name=f"Conceição {tag}")
    found = service.get("/api/customers", params={"q": f"conceicao {tag.lower()}"}).json()
    assert [c["name"] for c in found["items"]] == [f"Conceição {tag}"] and found["total_capped"] is False
    assert found["order"] == "newest"  # words: the order FTS5 streams, which a client must say
    digits = phone.replace(" ", "")[-8:]
    by_phone = service.get("/api/customers", params={"q": digits}).json()
    assert [c["name"] for c in by_phone["items"]] == [f"Conceição {tag}"] and by_phone["order"] == "last_contact"
    assert service.patch(f"/api/customers/{phone}", json={"name": f"Araújo {tag}"}).status_code == 200
    assert service.get("/api/customers", params={"q": f"conceicao {tag}"}).json()["items"] == []
    assert len(service.get("/api/customers", params={"q": f"araujo {tag}"}).json()["items"]) == 1


@pytest.mark.parametrize("path", ["/api/messages", "/api/customers"])
def test_hostile_search_text_never_fails(service, path):
    for text in HOSTILE:
        reply = service.get(path, params={"q": text})
        assert reply.status_code in (200, 422), (text, reply.status_code, reply.text)
        if reply.status_code == 200:
            assert isinstance(reply.json()["items"], list)


def test_restore_brings_back_the_search_index_and_latest_analysis(tmp_path):
    svc = start_service(tmp_path / "agent")
    try:
        kept = capture(svc, content="Pedido da promoção de verão")
        backup = svc.post("/api/system/backup").json()
        later = capture(svc, content="Pedido da promoção de outono")
        with side_db(svc) as db, db.transaction():
            message_rows.insert_analysis(db, kept, analysis("negative", "cancellation"), NOW)
        assert kept in ids_of(svc, intent="cancellation")
        assert svc.post("/api/system/restore", json={"name": backup["name"]}).status_code == 200
        assert ids_of(svc, q="promocao") == [kept]
        assert later not in ids_of(svc, q="outono")
        assert kept not in ids_of(svc, intent="cancellation")
        assert kept in ids_of(svc, sentiment=svc.get(f"/api/messages/{kept}").json()["analysis"]["sentiment"]["label"])
        # The restored database goes on indexing new captures.
        newer = capture(svc, content="Ação de inverno")
        assert ids_of(svc, q="acao inverno") == [newer]
    finally:
        svc.stop()


def test_migrations_15_and_16_backfill_an_existing_database(tmp_path):
    data_dir = tmp_path / "agent"
    data_dir.mkdir()
    db = Database(sqlite_url(data_dir / "crm_agent.db"))
    current_version(db)  # creates schema_version
    for number, description, step in MIGRATIONS:  # the schema as the previous release left it
        if number <= 14:
            with db.transaction():
                step(db)
                db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :t)",
                           {"v": number, "d": description, "t": NOW})
    assert current_version(db) == 14
    with db.transaction():
        customer_id, _ = customer_rows.upsert_customer_on_message(
            db, phone="+5511988887777", kind="phone", name="João Ninguém", language="pt", direction="in",
            sent_at=NOW, now=NOW)
        conversation_id, _ = customer_rows.upsert_conversation_on_message(
            db, chat_id="5511988887777@c.us", customer_id=customer_id, direction="in", sent_at=NOW, now=NOW)
        pks = [message_rows.insert_message(db, {
            "message_id": f"wamid.OLD{i}", "conversation_id": conversation_id, "customer_id": customer_id,
            "direction": "in", "type": "text", "content": text, "language": "pt", "media_url": None, "raw": None,
            "sent_at": NOW, "response_time_s": None, "now": NOW})
            for i, text in enumerate(["Não recebi a ação", "Obrigado!"])]
        message_rows.insert_analysis(db, pks[0], analysis("neutral", "support"), NOW)
        message_rows.insert_analysis(db, pks[0], analysis("negative", "complaint"), NOW)  # the latest
        message_rows.insert_analysis(db, pks[1], analysis("positive", "praise"), NOW)
    db.close()
    svc = start_service(data_dir)
    try:
        assert svc.get("/api/health").json()["database"]["schema_version"] >= 16
        assert ids_of(svc, sentiment="negative") == [pks[0]]
        assert ids_of(svc, intent="support") == []
        assert ids_of(svc, intent="praise") == [pks[1]]
        assert ids_of(svc, q="NAO RECEBI acao") == [pks[0]]
        assert [c["name"] for c in svc.get("/api/customers", params={"q": "joao"}).json()["items"]] == \
            ["João Ninguém"]
        assert svc.get("/api/metrics/dashboard").json()["total_customers"] == 1
    finally:
        svc.stop()


def test_keyset_pages_and_search_hold_under_concurrent_captures(service):
    """Search answers while captures keep arriving (the triggers write the index in each capture's transaction)."""
    tag = f"kw{time.time_ns() % 10**9}"
    stop = threading.Event()
    errors: list[str] = []

    def keep_capturing() -> None:
        while not stop.is_set():
            reply = service.post("/api/messages/capture", json=message(content=f"busca {tag}"))
            if reply.status_code != 201:
                errors.append(reply.text)

    worker = threading.Thread(target=keep_capturing)
    worker.start()
    try:
        for _ in range(20):
            reply = service.get("/api/messages", params={"q": f"busca {tag}", "limit": 10})
            assert reply.status_code == 200
    finally:
        stop.set()
        worker.join()
    assert not errors
    total = service.get("/api/messages", params={"q": tag, "limit": 1}).json()["total"]
    assert total == len(ids_of(service, q=tag)) or total > 200


def test_dashboard_customer_total_follows_new_merged_and_deleted_customers(fresh_service):
    svc = fresh_service

    def counted() -> int:
        with side_db(svc) as db:
            return int(db.scalar("SELECT COUNT(*) FROM customers WHERE kind IN ('phone', 'lid')"))

    def total() -> int:
        return svc.get("/api/metrics/dashboard").json()["total_customers"]

    stamp = time.time_ns() % 10**9
    capture(svc, phone="+55 11 91111 0001", chat_id="5511911110001@c.us", name="Ana")
    capture(svc, phone=None, chat_id=f"1203630{stamp:09d}@g.us", participant=f"{stamp}1@lid", chat_name="Equipe")
    capture(svc, phone="+55 11 91111 0003", chat_id="5511911110003@c.us", name="Bruna")
    lid = f"{stamp}2@lid"
    capture(svc, phone=None, chat_id=lid, name="Bruna")
    assert total() == counted() == 4  # Ana, the group's participant, Bruna and her @lid key; not the group
    # The @lid chat arrives with Bruna's phone: the @lid customer is merged into hers (kind 'merged', not counted).
    capture(svc, phone="+55 11 91111 0003", chat_id=lid, name="Bruna")
    assert total() == counted() == 3
    assert svc.request("DELETE", "/api/customers/+5511911110001").status_code == 200
    assert total() == counted() == 2
