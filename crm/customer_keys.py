"""Who a captured message belongs to: WhatsApp chat ids (JIDs) -> customer keys (docs/decisions.md).

A customer's key (customers.phone, unique) is its E.164 phone when known, else the JID WhatsApp gives:
`<digits>@lid` for a person whose phone WhatsApp hides, `<id>@g.us` for a group's own pseudo-customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from crm.phones import InvalidPhone, to_e164

CustomerKind = Literal["phone", "lid", "group"]

# '<user>[:device]@<server>'. Lengths are bounded so that every key fits team sync's 64-character limit.
_JID = re.compile(r"^(?P<user>\d{5,25}|\d{5,20}-\d{5,15})(?::\d{1,3})?@(?P<server>c\.us|s\.whatsapp\.net|lid|g\.us)$")


class CustomerKeyError(ValueError):
    """A capture whose customer cannot be named; field says which request field is at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Jid:
    user: str
    kind: Literal["person", "lid", "group"]

    @property
    def key(self) -> str:
        """The JID without a device suffix: how a lid or group customer is keyed."""
        return f"{self.user}@{'lid' if self.kind == 'lid' else 'g.us' if self.kind == 'group' else 'c.us'}"


@dataclass(frozen=True)
class CustomerRef:
    key: str
    kind: CustomerKind
    name: str | None
    merge_from: str | None = None  # a lid key to fold into this (phone) customer first


def parse_jid(value: str | None) -> Jid | None:
    """A chat or participant JID, or None when value is not one (e.g. an old-style free-form chat id)."""
    match = _JID.match(value.strip()) if value else None
    if match is None:
        return None
    server, user = match.group("server"), match.group("user")
    if server == "g.us":
        return Jid(user, "group")
    if "-" in user:
        return None  # only group ids carry a dash
    return Jid(user, "lid" if server == "lid" else "person")


def key_of_chat(chat_id: str, default_region: str) -> str | None:
    """The customer key a chat not yet captured would have (a customer may exist already, e.g. from sync)."""
    jid = parse_jid(chat_id)
    if jid is None:
        return None
    if jid.kind != "person":
        return jid.key
    try:
        return to_e164("+" + jid.user, default_region)
    except InvalidPhone:
        return None


def lookup_key(raw: str, default_region: str) -> str:
    """The key to look a customer up by, from a phone in any format or a JID (GET /api/customers/<...>)."""
    jid = parse_jid(raw)
    if jid is not None and jid.kind != "person":
        return jid.key
    return to_e164(raw, default_region)


def capture_customer(*, chat_id: str, phone: str | None, participant: str | None, direction: str,
                     name: str | None, chat_name: str | None,
                     default_region: str) -> tuple[CustomerRef, CustomerRef | None]:
    """(the message's customer, the conversation's customer when it differs: a group's own pseudo-customer).

    Raises CustomerKeyError naming the field when the capture cannot name its customer.
    """
    chat = parse_jid(chat_id)
    if chat is None:
        if phone is None:
            raise CustomerKeyError("phone", "required when chat_id is not a WhatsApp JID (@c.us, @lid, @g.us)")
        return CustomerRef(_e164(phone, "phone", default_region, typed=True), "phone", name or chat_name), None
    if chat.kind == "group":
        group = CustomerRef(chat.key, "group", chat_name)
        if direction == "out":
            return group, None
        return _person(participant, phone, name, "participant", default_region), group
    contact_name = (name or chat_name) if direction == "in" else (chat_name or name)
    return _person(chat_id, phone, contact_name, "chat_id", default_region), None


def _person(jid_text: str | None, phone: str | None, name: str | None, field: str,
            default_region: str) -> CustomerRef:
    """A person from a @c.us or @lid JID, the phone winning when the capture brings it."""
    jid = parse_jid(jid_text)
    if jid_text is not None and (jid is None or jid.kind == "group"):
        raise CustomerKeyError(field, "must be a person's WhatsApp JID (<digits>@c.us or <digits>@lid)")
    if phone is not None:
        merge_from = jid.key if jid is not None and jid.kind == "lid" else None
        # Beside a JID the phone is what WhatsApp shows (the @c.us digits, an @lid chat's title): a possible
        # number is enough, as for the JID itself; a stricter check would refuse real chats whenever
        # phonenumbers' metadata lags, and the extension drops a capture answered 422.
        return CustomerRef(_e164(phone, "phone", default_region, typed=jid is None), "phone", name, merge_from)
    if jid is None:
        raise CustomerKeyError(field, "required for a received group message (the sender's JID)")
    if jid.kind == "lid":
        return CustomerRef(jid.key, "lid", name)
    return CustomerRef(_e164("+" + jid.user, field, default_region), "phone", name)


def _e164(raw: str, field: str, default_region: str, typed: bool = False) -> str:
    """typed: a phone field (must be a valid number), not the digits of a WhatsApp JID (possible is enough)."""
    try:
        return to_e164(raw, default_region, require_valid=typed)
    except InvalidPhone as exc:
        raise CustomerKeyError(field, str(exc)) from None


def kind_of_key(key: str) -> CustomerKind:
    """The kind of a stored key (E.164 keys start with '+')."""
    if key.endswith("@g.us"):
        return "group"
    if key.endswith("@lid"):
        return "lid"
    return "phone"
