"""core/i18n.py: the catalogs match the code, the language follows the system or the setting, formats follow the
locale (Babel), and the pseudo-locale marks every message."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core import i18n

ROOT = Path(__file__).resolve().parent.parent


def test_every_message_the_code_uses_is_translated_in_every_catalog_and_none_is_left_over():
    problems = i18n.catalog_problems(ROOT)
    assert not problems, "run `python -m core.i18n update`, translate, commit:\n" + "\n".join(problems[:40])


def test_msgfmt_statistics_say_fully_translated_with_no_fuzzy_entry():
    assert shutil.which("msgfmt"), "msgfmt: scripts/system-packages.sh --test installs gettext"
    for po in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, f"{po}: {result.stderr}"


@pytest.mark.parametrize(("environ", "expected"), [
    ({"LANG": "pt_BR.UTF-8"}, "pt_BR"), ({"LANG": "pt_PT.UTF-8"}, "pt_BR"), ({"LANG": "es_MX.UTF-8"}, "es"),
    ({"LANG": "es_AR.UTF-8"}, "es"), ({"LANG": "en_GB.UTF-8"}, "en"), ({"LANG": "fr_FR.UTF-8"}, "en"),
    ({"LANG": "C"}, "en"), ({}, "en"), ({"LANGUAGE": "fr:es", "LANG": "fr_FR.UTF-8"}, "es"),
    ({"LC_ALL": "pt_BR.UTF-8", "LANG": "en_US.UTF-8"}, "pt_BR"),
])
def test_auto_follows_the_system_language(environ, expected):
    assert i18n.resolve_language("auto", environ) == expected
    assert i18n.resolve_language("es", environ) == "es"  # a chosen language wins over the system's


def test_numbers_money_dates_and_durations_follow_the_locale():
    pt, es, en = (i18n.Translator(code) for code in ("pt_BR", "es", "en"))
    assert pt.money(89.9) == "R$\xa089,90" and en.money(89.9) == "R$89.90"
    assert pt.decimal(1234.56) == "1.234,56" and en.decimal(1234.56) == "1,234.56" and es.decimal(1234.56) == "1.234,56"
    assert pt.date(datetime(2026, 12, 7)) == "07/12/2026"
    assert pt.ago(timedelta(minutes=5)).startswith("há 5 min") and es.ago(timedelta(minutes=5)) == "hace 5 min"
    assert pt.n_("{n} message", "{n} messages", 2000) == "2.000 messages"  # no catalog: English words, pt digits


def test_a_language_without_locale_data_formats_in_english_and_says_so(caplog):
    """A package missing a language's Babel data (agent.spec keeps only the product's languages) must not pass
    silently: the formats fall back to English with a warning in the log."""
    with caplog.at_level("WARNING", logger="core.i18n"):
        tr = i18n.Translator("xx_YY")
    assert tr.decimal(1234.5) == "1,234.50"
    assert any("no locale data for xx_YY" in r.getMessage() for r in caplog.records)


def test_the_pseudo_locale_wraps_and_lengthens_every_message():
    pseudo = i18n.translator_for("pseudo")
    text = pseudo._("Open dashboard")
    assert text.startswith("⟦") and text.endswith("⟧") and len(text) >= len("Open dashboard") * 1.4
    # Placeholders survive, so the caller's .format() (or %) still fills them.
    assert "{file}" in pseudo._("Reading {file}…") and pseudo._("Reading {file}…").format(file="x")
    assert "%s" in pseudo._("Quit %s")


def test_compiled_catalogs_translate_and_pluralise(tmp_path):
    (tmp_path / "tray").mkdir()
    source = 'def f(tr):\n    return tr._("Quit"), tr.n_("{n} alert", "{n} alerts", 2)\n'
    (tmp_path / "tray" / "menu.py").write_text(source)
    i18n.update_catalogs(tmp_path)
    po = tmp_path / "locale" / "pt_BR" / "LC_MESSAGES" / "desktop.po"
    text = po.read_text(encoding="utf-8")
    assert 'msgid "Quit"' in text
    text = text.replace('msgid "Quit"\nmsgstr ""', 'msgid "Quit"\nmsgstr "Sair"')
    text = text.replace('msgstr[0] ""\nmsgstr[1] ""', 'msgstr[0] "{n} alerta"\nmsgstr[1] "{n} alertas"')
    po.write_text(text, encoding="utf-8")
    assert not [p for p in i18n.catalog_problems(tmp_path) if p.startswith("pt_BR")]
    i18n.compile_catalogs(tmp_path / "locale")
    tr = i18n.translator_for("pt_BR", directory=tmp_path / "locale")
    assert tr._("Quit") == "Sair" and tr.n_("{n} alert", "{n} alerts", 1) == "1 alerta"
    assert tr.n_("{n} alert", "{n} alerts", 3) == "3 alertas"
    # A message removed from the code is reported as left over until the catalogs are updated.
    (tmp_path / "tray" / "menu.py").write_text('def f(tr):\n    return tr.n_("{n} alert", "{n} alerts", 2)\n')
    assert any("not used: 'Quit'" in p for p in i18n.catalog_problems(tmp_path))


def test_one_english_text_translated_two_ways_in_two_domains_is_reported(tmp_path):
    for domain, text in (("desktop", "Registros"), ("windows", "Logs")):
        folder = tmp_path / "locale" / "pt_BR" / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{domain}.po").write_text(f'msgid ""\nmsgstr ""\n\nmsgid "Logs"\nmsgstr "{text}"\n',
                                             encoding="utf-8")
    assert any("'Logs' is translated differently" in p for p in i18n.catalog_problems(tmp_path))
