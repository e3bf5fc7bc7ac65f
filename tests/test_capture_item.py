"""The capture pipeline's first step alone: validated body -> frozen CaptureItem, no database, no HTTP."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from api.schemas import CaptureRequest
from crm.capture import CaptureError, CaptureItem, validate_and_enrich
from tests.helpers import ROOT, message

NOW = datetime.now(timezone.utc)


def enrich(**overrides) -> CaptureItem:
    return validate_and_enrich(CaptureRequest.model_validate(message(**overrides)), now=NOW, default_region="BR")


def test_a_phone_capture_becomes_a_frozen_item_keyed_by_e164():
    item = enrich(phone="(11) 99999-0000", timestamp="2024-12-05T10:32:07Z", content="Oi")
    assert (item.customer.key, item.customer.kind, item.customer.name) == ("+5511999990000", "phone", "Maria Silva")
    assert item.owner is None and item.customer.merge_from is None
    assert item.sent == datetime(2024, 12, 5, 10, 32, 7, tzinfo=timezone.utc)
    assert item.sent_at == "2024-12-05T10:32:07.000Z"
    assert item.analysis_item().to_wire() == ["Oi", None, "Maria Silva", "in", "text", []]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.content = "changed"  # type: ignore[misc]


def test_a_group_message_is_its_senders_with_the_group_as_the_conversations_owner():
    item = enrich(chat_id="120363025246125486@g.us", phone=None, participant="5511988887777@c.us",
                  chat_name="Clientes VIP")
    assert (item.customer.key, item.customer.kind) == ("+5511988887777", "phone")
    assert (item.owner.key, item.owner.kind, item.owner.name) == ("120363025246125486@g.us", "group", "Clientes VIP")


def test_the_pre_plain_text_names_the_sender_and_the_minute_it_was_sent():
    item = enrich(name=None, timestamp="2024-12-20T12:00:07Z", pre_plain_text="[10:32, 05/12/2024] Ana: ",
                  locale="pt-BR", utc_offset_min=-180)
    assert item.customer.name == "Ana"
    assert item.sent == datetime(2024, 12, 5, 13, 32, tzinfo=timezone.utc)


def test_a_customer_that_cannot_be_named_is_a_capture_error_naming_the_field():
    with pytest.raises(CaptureError) as raised:
        enrich(chat_id="not-a-jid", phone="12")
    assert raised.value.field == "phone"


def test_the_domain_does_not_import_the_http_layer():
    code = "import sys, crm.capture; print(sorted(m for m in sys.modules if m == 'api' or m.startswith('api.')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
