"""The conversation context resolver (ai/builtin/context.py) through the built-in analyzer, and the payment
evidence cue: a short reply gets the intent it has after the conversation's earlier messages."""

from __future__ import annotations

import pytest

from ai.analysis import AnalysisContext, PreviousMessage
from ai.builtin import BuiltinAnalyzer
from ai.builtin.context import is_payment_evidence
from ai.builtin.normalize import normalize

ANALYZER = BuiltinAnalyzer()


def read(text: str, *previous: tuple[str, str]) -> dict:
    window = tuple(PreviousMessage(direction, said) for direction, said in previous)
    return ANALYZER.analyse(text, None, AnalysisContext(previous=window)).to_dict()


@pytest.mark.parametrize(("reply", "before", "expected"), [
    ("sim", [("out", "posso fechar o pedido?")], "purchase"),
    ("pode ser", [("in", "tem a camiseta azul?"), ("out", "Temos em M e G, quer levar?")], "purchase"),
    ("ok, fechado", [("out", "Fica R$ 89,90 com o frete. Fechamos?")], "purchase"),
    ("pode mandar", [("out", "Segue o link de pagamento: https://pag.example/x")], "purchase"),
    ("sure", [("out", "Would you like me to place the order?")], "purchase"),
    ("dale", [("out", "¿Te lo aparto?")], "purchase"),
    ("pode ser", [("out", "Posso agendar para amanhã às 10h?")], "scheduling"),
    ("sim", [("out", "Quer que eu cancele a assinatura?")], "cancellation"),
    ("não quero mais", [("in", "quero 2 camisetas"), ("out", "Anotado! Pedido 4411")], "cancellation"),
    ("I no longer want it", [("in", "I ordered the blue one"), ("out", "Great, it ships tomorrow")],
     "cancellation"),
    ("ya no lo quiero", [("in", "quiero comprar las zapatillas"), ("out", "Perfecto, las separo")], "cancellation"),
    ("e pra SP?", [("in", "quanto é o frete pra BH?"), ("out", "R$ 25, chega em 3 dias")], "pricing"),
    ("and to NY?", [("in", "how much is shipping to Boston?")], "pricing"),
    ("¿y a Cusco?", [("in", "¿cuánto cuesta el envío a Lima?")], "pricing"),
    ("qual o valor?", [("out", "Chegou a nova coleção de vestidos")], "pricing"),
])
def test_a_short_reply_takes_its_intent_from_the_window(reply, before, expected):
    analysis = read(reply, *before)
    assert analysis["intent"]["label"] == expected
    assert analysis["context"]["previous"] == len(before)


def test_the_same_reply_with_nothing_before_keeps_its_own_reading():
    alone = read("sim")
    assert alone["intent"]["label"] == "other"
    assert alone["context"] == {"used": False, "previous": 0}


def test_context_used_says_whether_the_window_changed_the_reading():
    assert read("sim", ("out", "posso fechar o pedido?"))["context"] == {"used": True, "previous": 1}
    # "qual o valor?" is pricing by itself: the window was given but did not change anything.
    assert read("qual o valor?", ("out", "Chegou a nova coleção"))["context"] == {"used": False, "previous": 1}


def test_an_ok_to_a_plain_statement_is_an_acknowledgement_not_a_purchase():
    assert read("ok", ("out", "O frete para BH é R$ 25."))["intent"]["label"] == "other"
    assert read("ok", ("out", "Seu pedido foi enviado hoje."))["intent"]["label"] == "other"


def test_a_message_that_says_what_it_wants_keeps_its_reading():
    analysis = read("quero saber onde está meu pedido, o rastreio não atualiza", ("out", "posso fechar o pedido?"))
    assert analysis["intent"]["label"] == "order_status"
    assert analysis["context"]["used"] is False


def test_a_withdrawal_with_no_order_before_is_not_made_a_cancellation_by_the_window():
    analysis = read("never mind", ("out", "Hi! How can I help?"))
    assert analysis["intent"]["label"] != "cancellation"
    assert analysis["context"]["used"] is False


def test_a_stored_intent_in_the_window_is_used_as_it_is():
    # The seller's message reads as "other" from its text; its stored intent (say from the LLM) says purchase.
    window = (PreviousMessage("out", "Então fica assim?", "purchase"),)
    analysis = ANALYZER.analyse("sim", "pt", AnalysisContext(previous=window)).to_dict()
    assert analysis["intent"]["label"] == "purchase"


def test_the_replies_follow_the_intent_the_context_gave():
    alone, in_context = read("sim"), read("sim", ("out", "posso fechar o pedido?"))
    assert in_context["suggested_responses"] != alone["suggested_responses"]


@pytest.mark.parametrize(("text", "evidence"), [
    ("paguei", True), ("segue o comprovante", True), ("pix enviado!", True), ("já fiz o pix", True),
    ("I paid, here's the receipt", True), ("ya pagué, te mando el comprobante", True),
    ("posso pagar com pix?", False), ("ainda não paguei", False), ("I haven't paid yet", False),
    ("qual a chave pix?", False), ("quero comprar", False),
])
def test_payment_evidence_is_a_payment_made_not_a_question_about_one(text, evidence):
    assert is_payment_evidence(normalize(text, "pt")) is evidence
