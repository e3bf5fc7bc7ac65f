"""The words shown for the API's values: a sentiment, an intent or a customer status is sent and filtered by
its English key ("order_status"), and shown in the user's language ("status do pedido").

A value the tables do not know (an intent label the user configured) is shown as it is, with "_" as a space.
Comboboxes show the labels; `value_of` turns the chosen label back into the API's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.i18n import N_, Translator

SENTIMENT_LABELS = {"positive": N_("positive"), "neutral": N_("neutral"), "negative": N_("negative")}
INTENT_LABELS = {
    "greeting": N_("greeting"), "pricing": N_("pricing"), "purchase": N_("purchase"),
    "order_status": N_("order status"), "support": N_("support"), "complaint": N_("complaint"),
    "cancellation": N_("cancellation"), "payment": N_("payment"), "scheduling": N_("scheduling"),
    "praise": N_("praise"), "other": N_("other"),
}
TYPE_LABELS = {  # api/schemas.py MessageType
    "text": N_("text"), "image": N_("image"), "audio": N_("audio"), "video": N_("video"),
    "document": N_("document"), "sticker": N_("sticker"), "location": N_("location"), "contact": N_("contact"),
}
STATUS_LABELS = {
    "lead": N_("lead"), "prospect": N_("prospect"), "active": N_("active"), "customer": N_("customer"),
    "inactive": N_("inactive"), "churned": N_("churned"), "blocked": N_("blocked"),
}


def label_for(tr: Translator, table: Mapping[str, str], value: str | None) -> str:
    """The shown word for an API value ("" for none)."""
    if not value:
        return ""
    known = table.get(value)
    return tr._(known) if known else value.replace("_", " ")


def labels_for(tr: Translator, table: Mapping[str, str], values: Iterable[str]) -> list[str]:
    return [label_for(tr, table, value) for value in values]


def value_of(tr: Translator, table: Mapping[str, str], label: str, values: Iterable[str]) -> str:
    """The API value whose shown word is `label` (the label itself when none matches)."""
    for value in values:
        if label_for(tr, table, value) == label:
            return value
    return label
