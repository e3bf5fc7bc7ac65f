"""Phone numbers in any common format -> E.164, with the phonenumbers library."""

from __future__ import annotations

import functools
import re

import phonenumbers

# WhatsApp Web ids look like 5511999990000@c.us (people) or ...@g.us (groups), sometimes with :device.
_WA_SUFFIX = re.compile(r"(:\d+)?@(c|s)\.(us|whatsapp\.net)$")


class InvalidPhone(ValueError):
    pass


@functools.lru_cache(maxsize=65536)
def to_e164(raw: str, default_region: str = "BR") -> str:
    """Normalise '(11) 99999-0000', '+55 11 99999 0000', '5511999990000@c.us' ... to '+5511999990000'."""
    value = raw.strip()
    if not value:
        raise InvalidPhone("phone is empty")
    match = _WA_SUFFIX.search(value)
    if match:
        # WhatsApp ids always carry the country code, without the plus sign.
        value = "+" + value[: match.start()]
    elif "@" in value:
        raise InvalidPhone("not a phone number or WhatsApp contact id")
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
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
