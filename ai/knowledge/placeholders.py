"""Placeholders in the seller's texts ({name}, {first_name}, {order}): filled from what is known of the chat, and
dropped with the words that only made sense around them when a value is unknown. Used by the quick replies
(crm/knowledge.py) and the grounded suggestions (ai/knowledge/grounded.py), so an entry reads the same in both.
"""

from __future__ import annotations

import re

PLACEHOLDERS = ("name", "first_name", "order")


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """text with {name}, {first_name} and {order} replaced by their values; a placeholder without a value goes
    with what only made sense around it, so the text still reads naturally:
    "Olá {first_name}!" -> "Olá!", "Oi, {name}, tudo bem?" -> "Oi, tudo bem?", "{first_name}, seu pedido
    #{order} saiu" -> "Seu pedido saiu". Other braces are left as they are."""
    for key in PLACEHOLDERS:
        token = "{" + key + "}"
        if token not in text:
            continue
        if values.get(key):
            text = text.replace(token, values[key])
            continue
        text = _drop_placeholder(text, key)
    return text


def _drop_placeholder(text: str, key: str) -> str:
    token = r"#?\{" + key + r"\}"
    # At the start of a line: the placeholder and its comma go, and the next word starts the sentence.
    text = re.sub(r"(?m)^([ \t]*)" + token + r"[ \t]*,?[ \t]*(\S?)",
                  lambda m: m.group(1) + m.group(2).upper(), text)
    # Before punctuation or the end of a line: the placeholder and the comma or spaces before it go.
    text = re.sub(r"[ \t]*,?[ \t]*" + token + r"(?=[ \t]*(?:[!?.,;:)]|$))", "", text, flags=re.MULTILINE)
    # Mid-sentence: the placeholder and the space before it go ("pedido {order} saiu" -> "pedido saiu").
    text = re.sub(r"[ \t]*" + token, "", text)
    return text
