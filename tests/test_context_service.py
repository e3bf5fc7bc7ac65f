"""Conversation-aware analysis and customer status from evidence, through the real service and SQLite."""

from __future__ import annotations

import json
import time
import uuid

import websocket

from tests.helpers import message, wait_until


def _chat() -> tuple[str, str]:
    number = f"55119{uuid.uuid4().int % 10**8:08d}"
    return f"{number}@c.us", f"+{number}"


def _say(svc, chat: str, phone: str, content: str, direction: str = "in", at_ms: int | None = None) -> dict:
    body = message(chat_id=chat, phone=phone, content=content, direction=direction,
                   timestamp=at_ms if at_ms is not None else int(time.time() * 1000))
    response = svc.post("/api/messages/capture", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _status(svc, phone: str) -> str:
    return svc.get(f"/api/customers/{phone}").json()["status"]


def test_a_yes_after_the_seller_asked_to_close_is_a_purchase_read_in_context(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    _say(service, chat, phone, "posso fechar o pedido?", "out", now - 60_000)
    answer = _say(service, chat, phone, "sim", at_ms=now)["analysis"]
    assert answer["intent"]["label"] == "purchase"
    assert answer["context"] == {"used": True, "previous": 1}
    # Stored with the analysis: the message's read-back says the same.
    stored = service.get(f"/api/messages?conversation_id={_conversation(service, phone)}").json()["items"]
    assert [m["analysis"]["context"]["used"] for m in stored if m["content"] == "sim"] == [True]


def _conversation(svc, phone: str) -> int:
    return svc.get(f"/api/customers/{phone}").json()["recent_conversations"][0]["id"]


def test_the_same_yes_alone_stays_what_it_is(service):
    chat, phone = _chat()
    answer = _say(service, chat, phone, "sim")["analysis"]
    assert answer["intent"]["label"] == "other"
    assert answer["context"] == {"used": False, "previous": 0}


def test_a_yes_long_after_the_question_is_outside_the_window(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    _say(service, chat, phone, "posso fechar o pedido?", "out", now - 45 * 60_000)
    answer = _say(service, chat, phone, "sim", at_ms=now)["analysis"]
    assert answer["intent"]["label"] == "other" and answer["context"]["previous"] == 0


def test_a_batch_carrying_the_question_and_the_answer_reads_the_answer_in_context(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    items = [message(chat_id=chat, phone=phone, direction="out", content="Temos a azul em M. Posso separar?",
                     timestamp=now - 30_000),
             message(chat_id=chat, phone=phone, content="pode ser", timestamp=now)]
    results = service.post("/api/messages/capture/batch", json={"messages": items}).json()["results"]
    assert [r["status"] for r in results] == [201, 201]
    answer = results[1]["analysis"]
    assert answer["intent"]["label"] == "purchase" and answer["context"] == {"used": True, "previous": 1}


def test_analysis_generate_reads_a_stored_message_and_a_text_in_their_conversation(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    _say(service, chat, phone, "Fica R$ 120 com o frete, posso fechar?", "out", now - 60_000)
    stored = _say(service, chat, phone, "pode ser", at_ms=now)
    again = service.post("/api/analysis/generate", json={"message_id": stored["id"], "engine": "rules"}).json()
    assert again["intent"]["label"] == "purchase" and again["context"] == {"used": True, "previous": 1}
    conversation = stored["conversation_id"]
    text = service.post("/api/analysis/generate", json={"text": "não quero mais", "conversation_id": conversation,
                                                        "engine": "rules"}).json()
    assert text["intent"]["label"] == "cancellation" and text["context"]["used"] is True
    alone = service.post("/api/analysis/generate", json={"text": "sim", "engine": "rules"}).json()
    assert alone["context"] == {"used": False, "previous": 0} and alone["intent"]["label"] == "other"
    missing = service.post("/api/analysis/generate", json={"text": "sim", "conversation_id": 999_999_999})
    assert missing.status_code == 404


def test_status_moves_to_customer_after_a_purchase_with_payment_then_to_churned(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    ws = websocket.create_connection(f"ws://127.0.0.1:{service.port}/ws?token={service.token()}", timeout=10)
    try:
        _say(service, chat, phone, "quero comprar 2 camisetas azuis", at_ms=now - 5 * 60_000)
        assert _status(service, phone) == "lead"  # a purchase intent alone is not a sale
        _say(service, chat, phone, "posso pagar com pix?", at_ms=now - 4 * 60_000)
        assert _status(service, phone) == "lead"  # a question about paying is not a payment
        _say(service, chat, phone, "pix enviado, segue o comprovante", at_ms=now - 3 * 60_000)
        assert _status(service, phone) == "customer"
        changed = _next_event(ws, "customer.status_changed")
        assert changed["data"]["status"] == "customer" and changed["data"]["previous_status"] == "lead"
        assert changed["data"]["reason"] == "purchase_with_payment" and changed["data"]["phone"] == phone
        _say(service, chat, phone, "quero cancelar o pedido", at_ms=now - 60_000)
        assert _status(service, phone) == "churned"
        assert _next_event(ws, "customer.status_changed")["data"]["reason"] == "cancellation"
    finally:
        ws.close()


def _next_event(ws, event_type: str) -> dict:
    while True:
        event = json.loads(ws.recv())
        if event["type"] == event_type:
            return event


def test_a_batch_with_the_purchase_and_the_payment_makes_a_customer(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    items = [message(chat_id=chat, phone=phone, content="vou querer o kit presente", timestamp=now - 60_000),
             message(chat_id=chat, phone=phone, direction="out", content="Perfeito! Chave pix: loja@example.com",
                     timestamp=now - 30_000),
             message(chat_id=chat, phone=phone, content="paguei", timestamp=now)]
    results = service.post("/api/messages/capture/batch", json={"messages": items}).json()["results"]
    assert [r["status"] for r in results] == [201, 201, 201]
    # The payment is analysed at once, the purchase before it after the answer (analysis_pending): the
    # backfill then reads the payment again as the evidence that completes the sale.
    assert results[0]["analysis_pending"] is True and results[2]["analysis"] is not None
    wait_until(lambda: _status(service, phone) == "customer", message="the sale seen once the purchase is analysed")


def test_a_status_set_by_hand_after_the_evidence_is_not_overridden(service):
    chat, phone = _chat()
    now = int(time.time() * 1000)
    _say(service, chat, phone, "quero comprar o plano anual", at_ms=now - 10 * 60_000)
    # The person sets the status now; the payment message was sent before that (delivered late).
    assert service.patch(f"/api/customers/{phone}", json={"status": "prospect"}).status_code == 200
    _say(service, chat, phone, "segue o comprovante", at_ms=now - 5 * 60_000)
    assert _status(service, phone) == "prospect"
    # Later evidence than the edit does move it.
    time.sleep(0.01)
    _say(service, chat, phone, "paguei o boleto agora, segue o comprovante", at_ms=int(time.time() * 1000) + 1000)
    assert _status(service, phone) == "customer"
    # A lead that cancels never bought: it stays a lead (only a customer churns).
    lead_chat, lead = _chat()
    _say(service, lead_chat, lead, "quero cancelar o pedido, desisti")
    assert _status(service, lead) == "lead"
    # A blocked customer never moves on its own.
    assert service.patch(f"/api/customers/{phone}", json={"status": "blocked"}).status_code == 200
    _say(service, chat, phone, "quero cancelar tudo", at_ms=int(time.time() * 1000) + 2000)
    assert _status(service, phone) == "blocked"


def test_the_conversion_rate_follows_the_customer_status(fresh_service):
    svc = fresh_service
    now = int(time.time() * 1000)
    buyer_chat, buyer = _chat()
    other_chat, other = _chat()
    _say(svc, other_chat, other, "oi, vocês abrem sábado?", at_ms=now - 60_000)
    _say(svc, buyer_chat, buyer, "quero comprar a mochila preta", at_ms=now - 60_000)
    assert svc.get("/api/metrics/dashboard").json()["conversion_rate"] == 0.0
    _say(svc, buyer_chat, buyer, "pix feito", at_ms=now)
    assert svc.get("/api/metrics/dashboard").json()["conversion_rate"] == 0.5
    _say(svc, buyer_chat, buyer, "não quero mais, quero cancelar", at_ms=now + 1000)
    assert svc.get("/api/metrics/dashboard").json()["conversion_rate"] == 0.0
