"""crm/phones.py on hostile and unusual input (issue 13): the 00 prefix, letters, invalid numbers."""

from __future__ import annotations

import pytest

from crm.customer_keys import CustomerKeyError, capture_customer
from crm.phones import InvalidPhone, to_e164


@pytest.mark.parametrize("raw, region, expected", [
    ("005511988887777", "BR", "+5511988887777"),
    ("00 55 11 98888-7777", "BR", "+5511988887777"),
    ("0034 612 34 56 78", "ES", "+34612345678"),
    ("00 1 415 555 2671", "DE", "+14155552671"),
])
def test_00_is_the_international_prefix(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["1-800-FLOWERS", "+1 800 FLOWERS", "11 9abc8-7777", "+55 11 98888-7777 ext 12"])
def test_letters_are_refused(raw):
    with pytest.raises(InvalidPhone, match="letters"):
        to_e164(raw, "US")


@pytest.mark.parametrize("raw", ["+55 11 0000-0000", "+1 555 000 0000", "+44 1000 000000", "+55 11 18888-7777"])
def test_numbers_that_are_not_valid_are_refused_when_validity_is_required(raw):
    with pytest.raises(InvalidPhone):
        to_e164(raw, "BR", require_valid=True)


def test_capture_phone_field_must_be_a_valid_number():
    with pytest.raises(CustomerKeyError) as caught:
        capture_customer(chat_id="chat-1", phone="+55 11 0000-0000", participant=None, direction="in", name=None,
                         chat_name=None, default_region="BR")
    assert caught.value.field == "phone"


def test_jids_keep_working():
    # A @c.us JID's digits are international already (WhatsApp's own account id): no region guessing.
    person, _ = capture_customer(chat_id="5511988887777@c.us", phone=None, participant=None, direction="in",
                                 name=None, chat_name=None, default_region="US")
    assert person.key == "+5511988887777"
    lid, _ = capture_customer(chat_id="123456789012345@lid", phone=None, participant=None, direction="in",
                              name=None, chat_name=None, default_region="BR")
    assert (lid.key, lid.kind) == ("123456789012345@lid", "lid")
    member, group = capture_customer(chat_id="120363025246125486@g.us", phone=None,
                                     participant="5521988887777@c.us", direction="in", name=None, chat_name="G",
                                     default_region="BR")
    assert (member.key, group.key, group.kind) == ("+5521988887777", "120363025246125486@g.us", "group")
