"""The prompt of a "Draft with AI" reply: instruction, facts, the last messages, the customer's name.

Pure text building (no llama.cpp here): the service builds it (crm/drafts.py) and the worker renders it for the
model it runs (ai/llm/draft.py): a model with a chat template gets `messages` through its own template, a model
without one (the bundled Gemma 3 270M base model) gets `prompt`, a plain transcript that ends where the seller's
reply begins.

The whole prompt is kept within the model's context by a character budget: the worker knows the tokens, the
service does not, so CHARS_PER_TOKEN is a deliberately low estimate (Portuguese and Spanish cost more tokens per
character than English in small vocabularies). What does not fit goes first from the oldest messages, then from
the longest facts; the instruction and the message being answered always stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LANGUAGE_NAMES = {"pt": "Portuguese", "en": "English", "es": "Spanish"}
CHARS_PER_TOKEN = 2.5
# Room for the chat template's own markers and the instruction's variable parts, in tokens.
TEMPLATE_RESERVE_TOKENS = 64
MAX_FACT_CHARS = 600  # one knowledge entry's content in the prompt at most
MAX_MESSAGE_CHARS = 400  # one earlier message of the conversation at most
MAX_ANSWERED_CHARS = 1000  # the message being answered

INSTRUCTION = (
    "You are a seller's assistant answering a customer on WhatsApp. Write the seller's next reply: brief (one to "
    "three short sentences), friendly, in {language_name}, the customer's language. Use ONLY the facts below. If "
    "the facts do not answer the question, say you will check and get back soon. Never invent prices, fees, dates "
    "or stock. Write only the reply text."
)
# The labels of the plain transcript, in the customer's language (a base model continues the language it sees).
TRANSCRIPT = {
    "pt": {"facts": "Fatos da loja", "none": "(nenhum fato sobre isso)", "customer": "Cliente", "seller": "Vendedor",
           "name": "Nome do cliente"},
    "en": {"facts": "Store facts", "none": "(no fact about this)", "customer": "Customer", "seller": "Seller",
           "name": "Customer's name"},
    "es": {"facts": "Datos de la tienda", "none": "(ningún dato sobre esto)", "customer": "Cliente",
           "seller": "Vendedor", "name": "Nombre del cliente"},
}


@dataclass(frozen=True)
class Fact:
    title: str
    content: str


@dataclass(frozen=True)
class Turn:
    direction: str  # "in" (the customer) or "out" (the seller)
    text: str


@dataclass
class DraftPrompt:
    """What the worker needs: `messages` for a chat-template model, `prompt` for one without a template."""

    language: str
    messages: list[dict[str, str]]
    prompt: str
    facts_used: int
    turns_used: int
    notes: list[str] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {"messages": self.messages, "prompt": self.prompt}


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _facts_block(facts: list[Fact]) -> str:
    return "\n".join(f"- {fact.title}: {fact.content}" for fact in facts)


def _system_text(language: str, customer_name: str | None, facts: list[Fact], labels: dict[str, str]) -> str:
    lines = [INSTRUCTION.format(language_name=LANGUAGE_NAMES.get(language, "the customer's language"))]
    if customer_name:
        lines.append(f"{labels['name']}: {customer_name}")
    lines.append(f"{labels['facts']}:\n{_facts_block(facts) if facts else labels['none']}")
    return "\n\n".join(lines)


def _render(language: str, customer_name: str | None, facts: list[Fact], history: list[Turn],
            answered: str) -> tuple[list[dict[str, str]], str]:
    labels = TRANSCRIPT.get(language, TRANSCRIPT["en"])
    system = _system_text(language, customer_name, facts, labels)
    messages = [{"role": "system", "content": system}]
    for turn in history:
        role = "user" if turn.direction == "in" else "assistant"
        if messages[-1]["role"] == role and role != "system":  # templates want alternating turns: merge runs
            messages[-1] = {"role": role, "content": messages[-1]["content"] + "\n" + turn.text}
        else:
            messages.append({"role": role, "content": turn.text})
    if messages[-1]["role"] == "user":
        messages[-1] = {"role": "user", "content": messages[-1]["content"] + "\n" + answered}
    else:
        messages.append({"role": "user", "content": answered})
    transcript = "".join(
        f"{labels['customer'] if t.direction == 'in' else labels['seller']}: {t.text}\n" for t in history)
    prompt = f"{system}\n\n{transcript}{labels['customer']}: {answered}\n{labels['seller']}:"
    return messages, prompt


def _size(messages: list[dict[str, str]], prompt: str) -> int:
    return max(sum(len(m["content"]) for m in messages), len(prompt))


def build_draft_prompt(answered: str, language: str | None, customer_name: str | None, facts: list[Fact],
                       history: list[Turn], n_ctx: int, max_tokens: int) -> DraftPrompt:
    """The prompt for a reply to `answered` (the customer's message), within n_ctx - max_tokens tokens.

    history: the earlier messages of the conversation, oldest first (the message answered not among them).
    """
    language = language if language in LANGUAGE_NAMES else "en"
    budget_chars = int(max(0, n_ctx - max_tokens - TEMPLATE_RESERVE_TOKENS) * CHARS_PER_TOKEN)
    answered = _cut(answered, MAX_ANSWERED_CHARS)
    name = _cut(customer_name, 60) if customer_name else None
    facts = [Fact(_cut(f.title, 120), _cut(f.content, MAX_FACT_CHARS)) for f in facts]
    history = [Turn(t.direction, _cut(t.text, MAX_MESSAGE_CHARS)) for t in history if t.text.strip()]
    notes: list[str] = []
    messages, prompt = _render(language, name, facts, history, answered)
    while _size(messages, prompt) > budget_chars and history:
        history = history[1:]  # the oldest message goes first
        messages, prompt = _render(language, name, facts, history, answered)
        notes.append("dropped an old message")
    while _size(messages, prompt) > budget_chars and facts:
        facts = facts[:-1]  # the weakest match goes next (facts come best first)
        messages, prompt = _render(language, name, facts, history, answered)
        notes.append("dropped a fact")
    return DraftPrompt(language, messages, prompt, len(facts), len(history), notes)
