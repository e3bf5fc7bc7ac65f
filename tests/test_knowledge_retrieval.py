"""The knowledge index (ai/knowledge/index.py) and the grounded reply (ai/knowledge/grounded.py), pure, plus the
bench set's quality gate (bench/knowledge_eval.py's scoring on bench/data/knowledge_*.csv)."""

from __future__ import annotations

from ai.builtin import BuiltinAnalyzer
from ai.knowledge.grounded import ground
from ai.knowledge.index import KnowledgeEntry, KnowledgeIndex
from bench.knowledge_eval import NO_FACT_GOAL, RECALL_GOAL, load_base, load_questions, run, score

FRETE_BH = KnowledgeEntry(1, "Frete para Belo Horizonte", "O frete para Belo Horizonte é R$ 15 por motoboy, com "
                          "entrega no mesmo dia.", "pt", ("frete", "bh"))
PAGAMENTO = KnowledgeEntry(2, "Formas de pagamento", "Aceitamos Pix, cartão de crédito em até 6x sem juros e "
                           "boleto.", "pt", ("pagamento",))
HORARIO = KnowledgeEntry(3, "Horário de atendimento", "Atendemos de segunda a sexta das 9h às 18h e aos sábados "
                         "das 9h às 13h.", "pt", ())
TROCA = KnowledgeEntry(4, "Troca e devolução", "Você tem 30 dias para trocar e 7 dias para devolver com reembolso.",
                       "pt", ("troca",))
SHIPPING_EN = KnowledgeEntry(5, "International shipping", "We ship worldwide with DHL: US$ 45, 5 to 8 business "
                             "days.", "en", ("shipping",))
BASE = (FRETE_BH, PAGAMENTO, HORARIO, TROCA, SHIPPING_EN)


def best(index: KnowledgeIndex, text: str, language: str | None) -> int | None:
    found = index.match(text, language)
    return found[0].entry_id if found else None


def test_chat_spelling_finds_the_entry():
    index = KnowledgeIndex(BASE)
    assert best(index, "qnto é o frete p/ bh?", "pt") == FRETE_BH.id
    assert best(index, "vcs entregam em bh?", "pt") == FRETE_BH.id
    assert best(index, "qual o horario de vcs", "pt") == HORARIO.id


def test_other_languages_find_an_entry_written_in_portuguese():
    index = KnowledgeIndex(BASE)
    assert best(index, "¿cuál es el horario de atención?", "es") == HORARIO.id
    assert best(index, "what payment methods do you accept? credit card?", "en") == PAGAMENTO.id
    assert best(index, "¿puedo devolver el producto?", "es") == TROCA.id


def test_misspelt_words_are_read_as_the_known_word():
    index = KnowledgeIndex(BASE)
    assert best(index, "tem fretee?", "pt") == FRETE_BH.id
    assert best(index, "como é o pagamneto?", "pt") == PAGAMENTO.id
    assert best(index, "da pra devolverr?", "pt") == TROCA.id


def test_a_shared_word_among_words_the_base_does_not_know_is_below_the_threshold():
    index = KnowledgeIndex(BASE)
    assert index.match("tem vaga de emprego pra motoboy?", "pt") == []
    assert index.match("vocês consertam celular com garantia de fábrica e película?", "pt") == []


def test_messages_the_knowledge_does_not_answer_match_nothing():
    index = KnowledgeIndex(BASE)
    for text in ("oi tudo bem?", "bom dia!", "obrigada!", "vcs vendem perfume?", "tem vaga de emprego?",
                 "do you sell laptops?", "ok", "kkkk"):
        assert index.match(text, None) == [], text


def test_an_empty_base_matches_nothing():
    index = KnowledgeIndex(())
    assert len(index) == 0
    assert index.match("quanto é o frete pra bh?", "pt") == []


def test_an_entry_in_the_customers_language_is_preferred_when_several_cover_the_question():
    index = KnowledgeIndex(BASE)
    analysis = BuiltinAnalyzer().analyse("how much is shipping?", "en").to_dict()
    ground(analysis, index, "how much is shipping?", "en")
    assert analysis["knowledge"]["entry_id"] == SHIPPING_EN.id
    assert analysis["knowledge"]["language"] == "en"


def test_grounded_reply_carries_the_fact_first_with_the_greeting():
    index = KnowledgeIndex(BASE)
    text = "quanto é o frete pra BH?"
    analysis = BuiltinAnalyzer().analyse(text, "pt").to_dict()
    ground(analysis, index, text, "pt", name="ana paula")
    assert analysis["knowledge"] == {"entry_id": FRETE_BH.id, "title": FRETE_BH.title,
                                     "score": analysis["knowledge"]["score"], "language": "pt"}
    assert 0.5 <= analysis["knowledge"]["score"] <= 1.0
    assert analysis["suggested_responses"][0] == f"Olá, Ana! {FRETE_BH.content}"
    assert len(analysis["suggested_responses"]) == 3


def test_no_match_leaves_the_templates_and_sets_knowledge_to_none():
    index = KnowledgeIndex(BASE)
    text = "meu pedido chegou com defeito, estou muito chateada"
    analysis = BuiltinAnalyzer().analyse(text, "pt").to_dict()
    templates = list(analysis["suggested_responses"])
    ground(analysis, index, text, "pt")
    assert analysis["knowledge"] is None
    assert analysis["suggested_responses"] == templates


def test_outbound_messages_are_not_grounded():
    index = KnowledgeIndex(BASE)
    text = "quanto é o frete pra BH?"
    analysis = BuiltinAnalyzer().analyse(text, "pt").to_dict()
    ground(analysis, index, text, "pt", direction="out")
    assert analysis["knowledge"] is None


def test_the_bench_set_meets_the_recall_and_no_fact_goals():
    """A quality gate, not a timing: bench/knowledge_eval.py's scoring on the bench knowledge base."""
    base = load_base()
    scores = score(run(KnowledgeIndex(base), base, load_questions()))
    assert scores.answerable >= 60 and scores.unanswerable >= 30
    assert scores.recall >= RECALL_GOAL
    assert scores.no_fact >= NO_FACT_GOAL
