"""The conversation context resolver: the intent a short reply has after the conversation's earlier messages.

"sim" alone says nothing; after the seller asked "posso fechar o pedido?" it is a purchase. Three readings, each
from a cue table in ai/builtin/context_cues.py (pt / en / es together):
- an affirmation ("sim", "pode mandar", "dale") after the seller proposed something (a question, an offer, a
  payment link) takes the intent of that proposal (AFFIRMED_INTENT: a "yes" to a price or payment is a purchase);
  an "ok" to a plain statement stays an acknowledgement;
- a withdrawal ("não quero mais", "never mind") after an order in the making is a cancellation;
- an elliptical follow-up ("e pra SP?", "and to NY?") asks the previous question again: it has its intent.
Only short replies are read this way, and only when the message alone gave no clear intent: a message that says
what it wants keeps its own reading. A reply with nothing before it is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ai.analysis import PreviousMessage
from ai.builtin.context_cues import (
    AFFIRMATIONS,
    AFFIRMED_INTENT,
    FOLLOW_UP_OPENINGS,
    FOLLOWED_INTENTS,
    ORDER_MENTIONS,
    PAYMENT_DONE,
    PAYMENT_NEGATIONS,
    SELLER_OFFERS,
    WITHDRAWALS,
    WITHDRAWN_INTENTS,
)
from ai.builtin.normalize import NormalizedText, normalize

# A reply longer than this (in words) says enough by itself.
MAX_REPLY_WORDS = 8
# The message's own intent wins when the matcher was at least this sure of it (and it is not "other").
OWN_READING_CONFIDENCE = 0.6
# The confidence reported for an intent the context gave.
CONTEXT_CONFIDENCE = 0.8
# Labels that mean "the message alone said nothing concrete".
VAGUE_LABELS = ("other", "greeting", "praise")


def _phrase_regex(phrases: Iterable[str]) -> re.Pattern[str]:
    """Whole-token match of any phrase in the padded normalised text (" sim , pode mandar ! ")."""
    alternatives = sorted({re.escape(p) for p in phrases}, key=len, reverse=True)
    return re.compile(r"(?<= )(?:" + "|".join(alternatives) + r")(?= )")


_AFFIRMATION = _phrase_regex(AFFIRMATIONS)
_WITHDRAWAL = _phrase_regex(WITHDRAWALS)
_SELLER_OFFER = _phrase_regex(SELLER_OFFERS)
_PAYMENT_DONE = _phrase_regex(PAYMENT_DONE)
_ORDER_MENTION = _phrase_regex(ORDER_MENTIONS)
_FOLLOW_UP = re.compile(r"^ (?:¿ )?(?:" + "|".join(sorted(map(re.escape, FOLLOW_UP_OPENINGS), key=len,
                                                          reverse=True)) + r") ")
_NEGATIONS = frozenset(PAYMENT_NEGATIONS)


@dataclass(frozen=True, slots=True)
class ContextReading:
    intent: str
    reason: str  # "affirmation", "withdrawal" or "follow_up" (for tests and the bench's error listing)


def words(normalized: NormalizedText) -> int:
    return sum(1 for token in normalized.tokens if token[0].isalnum())


def resolve(normalized: NormalizedText, own_intent: str, own_confidence: float,
            previous: tuple[PreviousMessage, ...], classify: Callable[[str], str]) -> ContextReading | None:
    """The intent the window gives this message, or None when the message keeps its own reading.

    classify reads an earlier message's intent from its text when the window did not carry it."""
    if not previous or words(normalized) > MAX_REPLY_WORDS:
        return None
    if own_intent not in VAGUE_LABELS and own_confidence >= OWN_READING_CONFIDENCE:
        return None
    joined = normalized.joined
    if _WITHDRAWAL.search(joined) is not None:
        if any(_names_an_order(p, classify) for p in previous):
            return ContextReading("cancellation", "withdrawal")
        return None
    if _FOLLOW_UP.search(joined) is not None and normalized.is_question:
        followed = _latest_concrete_intent(previous, classify)
        return ContextReading(followed, "follow_up") if followed is not None else None
    if _AFFIRMATION.search(joined) is not None and not normalized.is_question:
        affirmed = _affirmed_intent(previous, classify)
        return ContextReading(affirmed, "affirmation") if affirmed is not None else None
    return None


def _names_an_order(message: PreviousMessage, classify: Callable[[str], str]) -> bool:
    if _intent_of(message, classify) in WITHDRAWN_INTENTS:
        return True
    return _ORDER_MENTION.search(normalize(message.text, "pt").joined) is not None


def _intent_of(message: PreviousMessage, classify: Callable[[str], str]) -> str:
    return message.intent if message.intent is not None else classify(message.text)


def _latest_concrete_intent(previous: tuple[PreviousMessage, ...], classify: Callable[[str], str]) -> str | None:
    """The customer's own latest question first ("quanto é o frete pra BH?" -> "e pra SP?"), whatever the
    seller's answer reads as ("chega em 3 dias" is order status); the seller's latest message otherwise."""
    for direction in ("in", "out"):
        for message in reversed(previous):
            if message.direction != direction:
                continue
            intent = _intent_of(message, classify)
            if intent in FOLLOWED_INTENTS:
                return intent
    return None


def _affirmed_intent(previous: tuple[PreviousMessage, ...], classify: Callable[[str], str]) -> str | None:
    """What a "yes" agrees to: the seller's latest message, when it proposed something."""
    seller = next((m for m in reversed(previous) if m.direction == "out"), None)
    if seller is None:
        return None
    seller_text = normalize(seller.text, "pt")
    offered = _SELLER_OFFER.search(seller_text.joined) is not None
    if not (offered or seller_text.is_question):
        return None  # an "ok" to a statement is an acknowledgement
    intent = AFFIRMED_INTENT.get(_intent_of(seller, classify))
    if intent == "cancellation" or not offered:
        return intent
    return "purchase"


def is_payment_evidence(normalized: NormalizedText) -> bool:
    """The customer says the payment was made ("paguei", "segue o comprovante"), not asks about one."""
    if normalized.is_question or _PAYMENT_DONE.search(normalized.joined) is None:
        return False
    return _NEGATIONS.isdisjoint(normalized.tokens)
