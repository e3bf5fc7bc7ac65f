"""crm/whatsapp_time.py: WhatsApp Web's data-pre-plain-text in the locales sellers use, and garbage."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm.whatsapp_time import choose_sent_at, parse_pre_plain_text, sender_name

UTC = timezone.utc
EARLIEST, LATEST = datetime(2009, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
SEEN = datetime(2024, 12, 20, 12, 0, 7, tzinfo=UTC)  # when the extension saw the rows (a history import)


@pytest.mark.parametrize(("text", "locale", "offset", "expected", "sender"), [
    # pt-BR: 24 h, day first, Brasília is UTC-3
    ("[10:32, 05/12/2024] Ana Souza: ", "pt-BR", -180, datetime(2024, 12, 5, 13, 32), "Ana Souza"),
    ("[09:05, 5/12/2024] +55 11 99999-0000: ", "pt-BR", -180, datetime(2024, 12, 5, 12, 5), "+55 11 99999-0000"),
    ("[23:59, 31/12/24] Loja: ", "pt-BR", -180, datetime(2025, 1, 1, 2, 59), "Loja"),
    # en-US: 12 h, month first
    ("[10:32 PM, 12/5/2024] Bob: ", "en-US", -300, datetime(2024, 12, 6, 3, 32), "Bob"),
    ("[12:05 AM, 12/5/2024] Bob: ", "en-US", -300, datetime(2024, 12, 5, 5, 5), "Bob"),
    ("[12:05 PM, 12/5/2024] Bob: ", "en-US", -300, datetime(2024, 12, 5, 17, 5), "Bob"),
    ("[10:32\u202fPM, 12/5/2024] Bob: ", "en-US", 0, datetime(2024, 12, 5, 22, 32), "Bob"),  # ICU's narrow space
    ("[7:01 am, 1/2/24] Bob: ", "en", 0, datetime(2024, 1, 2, 7, 1), "Bob"),
    # es: "p. m." / "a. m." (with ordinary and no-break spaces), day first
    ("[10:32 p. m., 5/12/2024] Luis: ", "es-ES", 60, datetime(2024, 12, 5, 21, 32), "Luis"),
    ("[10:32 a.\xa0m., 5/12/2024] Luis: ", "es-MX", -360, datetime(2024, 12, 5, 16, 32), "Luis"),
    ("[10:32 a.m., 5/12/24] Luis: ", "es-CO", -300, datetime(2024, 12, 5, 15, 32), "Luis"),
    ("[1:15 p.m., 13/1/2025] Luis: ", "es-AR", -180, datetime(2025, 1, 13, 16, 15), "Luis"),
    # en-GB: 24 h, day first
    ("[08:00, 01/02/2024] Sam: ", "en-GB", 0, datetime(2024, 2, 1, 8, 0), "Sam"),
    # de: dotted dates
    ("[22:32, 5.12.2024] Jörg Müller: ", "de-DE", 60, datetime(2024, 12, 5, 21, 32), "Jörg Müller"),
    ("[07:10, 05.12.24] Jörg: ", "de", 60, datetime(2024, 12, 5, 6, 10), "Jörg"),
    # ISO-like and year-first forms
    ("[10:32, 2024-12-05] Sven: ", "sv-SE", 60, datetime(2024, 12, 5, 9, 32), "Sven"),
    ("[下午10:32, 2024/12/5] 李: ", "zh-CN", 480, datetime(2024, 12, 5, 14, 32), "李"),
    ("[오후 10:32, 2024. 12. 5.] 김: ", "ko-KR", 540, datetime(2024, 12, 5, 13, 32), "김"),
    # the day over 12 decides the order whatever the locale says
    ("[10:32, 12/25/2024] Ana: ", "pt-BR", 0, datetime(2024, 12, 25, 10, 32), "Ana"),
    ("[10:32 PM, 25/12/2024] Bob: ", "en-US", 0, datetime(2024, 12, 25, 22, 32), "Bob"),
    # seconds, a name with a colon inside, no name at all
    ("[10:32:45, 05/12/2024] Ana: ", "pt-BR", 0, datetime(2024, 12, 5, 10, 32, 45), "Ana"),
    ("[10:32, 05/12/2024] Loja: Centro: ", "pt-BR", 0, datetime(2024, 12, 5, 10, 32), "Loja: Centro"),
    ("[10:32, 05/12/2024]", "pt-BR", 0, datetime(2024, 12, 5, 10, 32), None),
])
def test_parses_real_looking_variants(text, locale, offset, expected, sender):
    parsed = parse_pre_plain_text(text, locale, offset)
    assert parsed is not None
    assert parsed.candidates[0] == expected.replace(tzinfo=UTC)
    assert parsed.sender == sender
    assert sender_name(text) == sender


def test_locale_decides_an_ambiguous_date():
    text = "[10:32, 04/05/2024] Ana: "
    assert parse_pre_plain_text(text, "pt-BR", 0).candidates[0].date().isoformat() == "2024-05-04"
    assert parse_pre_plain_text(text, "en-US", 0).candidates[0].date().isoformat() == "2024-04-05"
    assert parse_pre_plain_text(text, None, 0).candidates[0].date().isoformat() == "2024-05-04"  # day first


@pytest.mark.parametrize("text", [
    "", "garbage", "[]", "[10:32] Ana: ", "[, ] Ana: ", "[99:99, 1/1/2024] a: ", "[10:32, 31/31/2024] a: ",
    "[10:32, 1/2] a: ", "[10:32, 1/2/123] a: ", "[13:00 PM, 1/2/2024] a: ", "[10:32 XM, 1/2/2024] a: ",
    "[10:32, 0000-01-01] a: ", "[10:32, 2024-02-30] a: ", "10:32, 05/12/2024 Ana: ", "[" + "9" * 500 + "]",
    "[\x00:\x00, \x00] a", "[10:32 PM PM, 1/2/2024] a: ", None, "[23:59, 9999-12-31] a: ", "[00:00, 0001-01-01] a: ",
    "[10:32, 1/2/1999] a: ",
])
def test_garbage_does_not_parse_and_never_raises(text):
    assert parse_pre_plain_text(text, "pt-BR", 0) is None
    assert choose_sent_at(SEEN, text, "pt-BR", 0, EARLIEST, LATEST) == SEEN


def test_sent_at_prefers_the_parsed_time():
    chosen = choose_sent_at(SEEN, "[10:32, 05/12/2024] Ana: ", "pt-BR", -180, EARLIEST, LATEST)
    assert chosen == datetime(2024, 12, 5, 13, 32, tzinfo=UTC)


def test_same_minute_keeps_the_timestamp_with_its_seconds():
    seen = datetime(2024, 12, 5, 13, 32, 41, tzinfo=UTC)
    assert choose_sent_at(seen, "[10:32, 05/12/2024] Ana: ", "pt-BR", -180, EARLIEST, LATEST) == seen


def test_no_text_or_no_offset():
    assert choose_sent_at(SEEN, None, "pt-BR", 0, EARLIEST, LATEST) == SEEN
    local = parse_pre_plain_text("[10:32, 05/12/2024] Ana: ", "pt-BR", None).candidates[0]
    assert local == datetime(2024, 12, 5, 10, 32).astimezone().astimezone(UTC)  # this machine's zone


def test_a_guess_in_the_future_takes_the_other_order():
    seen = datetime(2024, 6, 1, tzinfo=UTC)
    # 12/05 read month first (en-US) is 5 December, after the row was seen: it can only be 12 May.
    chosen = choose_sent_at(seen, "[10:32 AM, 12/05/2024] Bob: ", "en-US", 0, EARLIEST, LATEST)
    assert chosen == datetime(2024, 5, 12, 10, 32, tzinfo=UTC)
    # Plausible as the locale reads it: the locale wins.
    chosen = choose_sent_at(seen, "[10:32 AM, 05/12/2024] Bob: ", "en-US", 0, EARLIEST, LATEST)
    assert chosen == datetime(2024, 5, 12, 10, 32, tzinfo=UTC)
    # Both orders after the row was seen, or outside the accepted range: the timestamp.
    assert choose_sent_at(seen, "[10:32 AM, 07/08/2024] Bob: ", "en-US", 0, EARLIEST, LATEST) == seen
    assert choose_sent_at(seen, "[10:32, 05/12/2008] Ana: ", "pt-BR", 0, EARLIEST, LATEST) == seen
