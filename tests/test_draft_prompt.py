"""The 'Draft with AI' prompt builder (ai/draft_prompt.py) and the draft's knowledge match (crm/drafts.py)."""

from __future__ import annotations

from ai.draft_prompt import CHARS_PER_TOKEN, Fact, Turn, build_draft_prompt
from crm.drafts import _terms

FRETE = Fact("Frete para BH", "O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis.")


def test_the_facts_the_name_and_the_message_are_in_both_renderings():
    prompt = build_draft_prompt("qnto é o frete pra BH?", "pt", "Ana", [FRETE], [Turn("out", "Olá Ana!")], 1024, 160)
    system = prompt.messages[0]
    assert system["role"] == "system" and "R$ 25" in system["content"] and "Ana" in system["content"]
    assert "ONLY the facts" in system["content"] and "Never invent prices" in system["content"]
    assert [m["role"] for m in prompt.messages[1:]] == ["assistant", "user"]
    assert prompt.messages[-1]["content"] == "qnto é o frete pra BH?"
    assert "R$ 25" in prompt.prompt and prompt.prompt.endswith("Cliente: qnto é o frete pra BH?\nVendedor:")
    assert prompt.facts_used == 1 and prompt.turns_used == 1


def test_the_reply_language_is_the_customers():
    assert "in Spanish" in build_draft_prompt("¿cuánto cuesta?", "es", None, [], [], 1024, 160).messages[0]["content"]
    english = build_draft_prompt("how much?", "en", None, [], [], 1024, 160)
    assert "in English" in english.messages[0]["content"] and english.prompt.endswith("Customer: how much?\nSeller:")
    unknown = build_draft_prompt("hm", None, None, [], [], 1024, 160)
    assert "in English" in unknown.messages[0]["content"]


def test_without_facts_the_prompt_says_so():
    prompt = build_draft_prompt("vocês abrem domingo?", "pt", None, [], [], 1024, 160)
    assert "nenhum fato" in prompt.prompt and "say you will check" in prompt.messages[0]["content"]


def test_consecutive_messages_of_one_side_merge_so_turns_alternate():
    history = [Turn("in", "oi"), Turn("in", "tudo bem?"), Turn("out", "oi!"), Turn("out", "em que posso ajudar?")]
    prompt = build_draft_prompt("quero saber do frete", "pt", None, [], history, 1024, 160)
    roles = [m["role"] for m in prompt.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert prompt.messages[1]["content"] == "oi\ntudo bem?"


def test_the_prompt_stays_within_the_context_oldest_messages_first_then_weakest_facts():
    history = [Turn("in" if i % 2 else "out", f"mensagem número {i} " + "bla " * 90) for i in range(6)]
    facts = [FRETE, Fact("Pagamento", "Aceitamos pix e cartão. " * 20)]
    n_ctx, max_tokens = 512, 160
    prompt = build_draft_prompt("qual o frete?", "pt", "Ana", facts, history, n_ctx, max_tokens)
    budget = (n_ctx - max_tokens - 64) * CHARS_PER_TOKEN
    assert len(prompt.prompt) <= budget and sum(len(m["content"]) for m in prompt.messages) <= budget
    assert prompt.turns_used < len(history) and "qual o frete?" in prompt.prompt
    assert "mensagem número 5" in prompt.prompt or prompt.turns_used == 0  # the newest kept first
    assert "mensagem número 0" not in prompt.prompt
    roomy = build_draft_prompt("qual o frete?", "pt", "Ana", facts, history, 4096, max_tokens)
    assert roomy.turns_used == len(history) and roomy.facts_used == 2


def test_the_facts_go_after_the_messages_and_the_best_fact_stays_longest():
    facts = [FRETE, Fact("Trocas", "Trocas em até 7 dias. " * 30)]
    prompt = build_draft_prompt("frete?", "pt", None, facts, [], 320, 160)
    assert prompt.facts_used in (0, 1)
    if prompt.facts_used == 1:
        assert "R$ 25" in prompt.prompt and "Trocas em" not in prompt.prompt


def test_match_terms_ignore_accents_plurals_and_filler_words():
    assert _terms("Qual é o preço dos fretes para Belo Horizonte?") >= {"preco", "frete", "belo", "horiz"}
    assert not _terms("qual o que para")
