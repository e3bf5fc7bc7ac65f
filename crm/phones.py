"""Phone numbers in any common format -> E.164, with the phonenumbers library."""

from __future__ import annotations

import functools
import re

import phonenumbers

# WhatsApp Web ids look like 5511999990000@c.us (people) or ...@g.us (groups), sometimes with :device.
_WA_SUFFIX = re.compile(r"(:\d+)?@(c|s)\.(us|whatsapp\.net)$")
# "00" then the country code: the ITU international prefix, whatever the default region dials abroad with
# (phonenumbers reads it only where it is the region's own prefix, and not at all in Brazil, where 00 is
# followed by a carrier code: 005511... became +1 1...).
_INTERNATIONAL_00 = re.compile(r"^[\s().-]*00(?=[\s().-]*[1-9])")


class InvalidPhone(ValueError):
    pass


@functools.lru_cache(maxsize=65536)
def to_e164(raw: str, default_region: str = "BR", *, require_valid: bool = False) -> str:
    """Normalise '(11) 99999-0000', '+55 11 99999 0000', '005511999990000', '5511999990000@c.us' ... to
    '+5511999990000'.

    Letters are refused (phonenumbers would dial 1-800-FLOWERS on a keypad). require_valid: the number must
    also be one phonenumbers knows to be assigned (is_valid_number), not only of a possible length; captures
    ask it of a typed phone, not of a WhatsApp JID (WhatsApp vouches for those, and the metadata may lag).
    """
    value = raw.strip()
    if not value:
        raise InvalidPhone("phone is empty")
    match = _WA_SUFFIX.search(value)
    if match:
        # WhatsApp ids always carry the country code, without the plus sign.
        value = "+" + value[: match.start()]
    elif "@" in value:
        raise InvalidPhone("not a phone number or WhatsApp contact id")
    if any(ch.isalpha() for ch in value):
        raise InvalidPhone("not a phone number: letters are not allowed")
    value = _INTERNATIONAL_00.sub("+", value, count=1)
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if (number is None or not phonenumbers.is_possible_number(number)) and not value.startswith("+"):
        # Digits that already include a country code (5511999990000) read as international.
        digits = re.sub(r"\D", "", value)
        try:
            number = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidPhone("not a valid phone number")
    if require_valid and not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number (no such number is assigned in its country)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
