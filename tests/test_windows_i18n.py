"""The dashboard window's words and formats without a display: what each language shows for the API's values,
numbers, dates, durations and plurals, and that the pseudo-locale keeps the placeholders the code fills in."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.i18n import translator_for
from windows.customers import customer_row
from windows.errors import describe_error
from windows.forms import check_value
from windows.knowledge import import_summary
from windows.labels import INTENT_LABELS, SENTIMENT_LABELS, STATUS_LABELS, label_for, value_of
from windows.messages import analysis_text, draft_figures
from windows.widgets import fmt_change, fmt_count, fmt_duration, fmt_percent, local_day_bounds_ms, mnemonic

ANALYSIS = {"sentiment": {"label": "negative", "score": -0.92}, "intent": {"label": "order_status", "confidence": 0.65},
            "engine": "rules", "model_version": "builtin-1.0"}


def test_portuguese_words_and_formats():
    pt = translator_for("pt_BR")
    assert fmt_count(pt, 1234567) == "1.234.567"
    assert fmt_percent(pt, 0.125) == "12,5%"
    assert fmt_duration(pt, 200) == "3 min 20 s"
    assert fmt_change(pt, 120, 100) == ("+20% em relação a ontem (100)", "up")
    assert fmt_change(pt, 0.25, 0.2, kind="rate") == ("+5,0 p.p. em relação a ontem", "up")
    assert analysis_text(pt, ANALYSIS).splitlines()[:2] == ["Sentimento: negativo (pontuação −0,92)",
                                                           "Intenção: status do pedido (confiança 65%)"]
    assert import_summary(pt, {"created": 1, "updated": 2, "errors": []}) == "1 criada, 2 atualizadas, sem erros."
    assert draft_figures(pt, {"ttft_ms": 1412.4, "tokens_per_s": 18.46, "tokens": 1}) == (
        "primeiras palavras em 1.412 ms · 18,5 tokens/s · 1 token")
    row = customer_row(pt, {"name": "Ana", "phone": "+55 11 9", "status": "churned", "messages_in": 1000,
                            "messages_out": 234, "last_contact_at": None})
    assert row[2] == "perdido" and row[4] == "1.234"
    assert describe_error(ConnectionError("x"), pt) == "x"


def test_spanish_plurals_and_dates():
    es = translator_for("es")
    assert es.n_("{n} message", "{n} messages", 1) == "1 mensaje"
    assert es.n_("{n} message", "{n} messages", 3) == "3 mensajes"
    errors = [{"line": n, "error": "title: required"} for n in (4, 9)]
    assert import_summary(es, {"created": 0, "updated": 1, "errors": errors}) == (
        "0 creadas, 1 actualizada, 2 filas con errores: línea 4: title: required; línea 9: title: required")
    start, _end = local_day_bounds_ms("15/01/2026", es)
    assert datetime.fromtimestamp(start / 1000).strftime("%Y-%m-%d %H:%M") == "2026-01-15 00:00"
    with pytest.raises(ValueError):
        local_day_bounds_ms("ayer", es)


def test_labels_are_shown_translated_and_sent_as_the_api_values():
    pt = translator_for("pt_BR")
    for table in (SENTIMENT_LABELS, INTENT_LABELS, STATUS_LABELS):
        for value in table:
            shown = label_for(pt, table, value)
            assert value_of(pt, table, shown, table) == value
    assert label_for(pt, INTENT_LABELS, "gift_wrapping") == "gift wrapping"  # a configured label, unknown here
    assert label_for(translator_for("en"), INTENT_LABELS, "order_status") == "order status"


def test_the_pseudo_locale_keeps_placeholders_so_every_sentence_still_formats():
    pseudo = translator_for("pseudo")
    assert pseudo._("{change} vs yesterday ({count})").format(change="+5%", count=3).startswith("⟦+5% vš")
    assert fmt_change(pseudo, 120, 100)[0].startswith("⟦+20%")
    assert check_value({"type": "integer", "minimum": 1}, "0", pseudo)[1] == "⟦mûšt bé >= 1········⟧"


def test_mnemonic_marks_the_alt_letter():
    assert mnemonic("C&onhecimento") == ("Conhecimento", 1)
    assert mnemonic("Overview") == ("Overview", 0)
    assert mnemonic("Rock &") == ("Rock &", 0)


def test_a_capped_total_reads_ten_thousand_plus_in_each_language():
    from windows.widgets import page_label

    pt, es, en = translator_for("pt_BR"), translator_for("es"), translator_for("en")
    assert page_label(en, 0, 50, 10_000, capped=True) == "1–50 of 10,000+"
    assert page_label(pt, 50, 50, 10_000, capped=True) == "51–100 de 10.000+"
    assert page_label(es, 0, 50, 1_000, capped=True) == "1–50 de 1.000+"  # a search counts to 1,000
    assert page_label(es, 0, 50, 10_000, capped=True) == "1–50 de 10.000+"
    assert page_label(pt, 0, 50, 1_234) == "1–50 de 1.234"
    # Deeper than the count went: the rows shown are still "of more than" their own last position.
    assert page_label(en, 10_000, 50, 10_000, capped=True) == "10,001–10,050 of 10,050+"
    assert page_label(en, 0, 0, 0) == "0 of 0"
