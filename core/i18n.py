"""The product's language: gettext catalogs for the words, Babel for numbers, money, dates and durations.

One Translator per process, made by `translator_for()` from the `ui.language` setting ("auto" follows the system
locale) and passed explicitly to whatever shows text (windows, tray, notifications, CLI messages). No module-level
"current language": a test or a window can hold a Translator of its own.

Catalogs live in locale/<lang>/LC_MESSAGES/<domain>.po, one domain per area of the product (so each area's
messages are extracted and checked on their own, and two people translating two areas never edit one file):
    desktop   tray menu, tooltips, notifications          cli       the command line's user-facing messages
    windows   the dashboard window's tabs and dialogs     settings  the settings, logs and connect windows and
                                                                    the SETTINGS table's labels and help
The .mo files are compiled from the .po files by `python -m core.i18n compile` (the bootstrap, the test command
and the one-file build run it); a missing .mo only means English.

Marking text: call `tr._("Save")`, `tr.n_("{n} message", "{n} messages", n)`; for text declared as data before
any Translator exists (the SETTINGS table, tables of labels), wrap it in `N_("...")` so it is extracted, and pass
it through `tr._()` where it is shown. pybabel extracts the keywords `_`, `n_:1,2` and `N_`.
"""

from __future__ import annotations

import gettext
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale

log = logging.getLogger(__name__)

SOURCE_LANGUAGE = "en"
LANGUAGES = ("en", "pt_BR", "es")  # the `ui.language` choices besides "auto"
LANGUAGE_NAMES = {"en": "English", "pt_BR": "Português (Brasil)", "es": "Español"}
DOMAINS = ("desktop", "cli", "windows", "settings")
# Where each domain's messages are (paths relative to the repository; a file belongs to the first domain that
# names it or its folder).
DOMAIN_SOURCES: dict[str, tuple[str, ...]] = {
    "settings": ("windows/settings.py", "windows/logs.py", "windows/logfile.py", "windows/connect.py",
                 "core/config.py"),
    "desktop": ("tray", "desktop"),
    "cli": ("cli", "agent.py"),
    "windows": ("windows",),
}
# Babel's keywords for these calls (also in pyproject.toml's [tool.babel] notes and scripts/i18n.sh).
EXTRACT_KEYWORDS = {"_": None, "n_": (1, 2), "N_": None}
PSEUDO = "pseudo"  # a test locale: every message wrapped and 40% longer, to find clipped labels


def N_(message: str) -> str:
    """Mark text declared as data for extraction; it is translated where it is shown (tr._(text))."""
    return message


def locale_dir() -> Path:
    """The compiled catalogs: beside the sources, or inside the one-file build (agent.spec adds them)."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return root / "locale"


def system_language(environ: Mapping[str, str] | None = None) -> str:
    """The supported language closest to the system locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), else English."""
    env = os.environ if environ is None else environ
    wanted: list[str] = []
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        for part in value.split(":"):
            code = part.split(".")[0].split("@")[0].strip()
            if code and code not in ("C", "POSIX"):
                wanted.append(code)
    if sys.platform == "win32" and not wanted:  # Windows has no LANG: ask the OS
        import locale as stdlib_locale

        code = stdlib_locale.getlocale()[0]
        if code:
            wanted.append(code)
    # "pt_PT" or "pt" still reads Portuguese best in pt_BR; "es_MX", "es_AR" in es.
    return negotiate_locale(wanted, list(LANGUAGES), sep="_", aliases={"pt": "pt_BR", "es": "es", "en": "en"}) or \
        _by_language_only(wanted)


def _by_language_only(wanted: list[str]) -> str:
    for code in wanted:
        language = code.split("_")[0].split("-")[0].lower()
        for supported in LANGUAGES:
            if supported.split("_")[0] == language:
                return supported
    return SOURCE_LANGUAGE


def resolve_language(setting: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The language to show: the `ui.language` setting, or the system's when it is "auto" (or unknown)."""
    if setting in LANGUAGES or setting == PSEUDO:
        return setting  # type: ignore[return-value]
    return system_language(environ)


class Translator:
    """Messages and locale formats for one language."""

    def __init__(self, language: str, catalogs: gettext.NullTranslations | None = None) -> None:
        self.language = language
        self._catalogs = catalogs or gettext.NullTranslations()
        self._pseudo = language == PSEUDO
        try:
            self.locale = Locale.parse("pt_BR" if self._pseudo else language)
        except (UnknownLocaleError, ValueError) as exc:
            # Said, not silent: a package that left out a language's Babel data (agent.spec trims CLDR to the
            # product's languages) would otherwise show English numbers and dates among translated words.
            log.warning("no locale data for %s (%s): numbers and dates in English", language, exc)
            self.locale = Locale.parse(SOURCE_LANGUAGE)

    # -- words ------------------------------------------------------------------------------------------------

    def _(self, message: str) -> str:
        text = self._catalogs.gettext(message)
        return _pseudo(text) if self._pseudo else text

    def n_(self, singular: str, plural: str, n: int) -> str:
        """The plural form for n, with {n} filled ("1 mensagem", "2 mensagens")."""
        text = self._catalogs.ngettext(singular, plural, n)
        if self._pseudo:
            text = _pseudo(text)
        return text.replace("{n}", self.integer(n))

    # -- formats (Babel: the locale's own separators, symbols and orders) ------------------------------------
    # babel.dates and babel.numbers are imported when a format is first asked for: the service and the tray
    # never format, and the two cost ~1.2 MB of RSS in every process (issue 17).

    def integer(self, value: int) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.locale)

    def decimal(self, value: float, digits: int = 2) -> str:
        from babel.numbers import format_decimal

        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float, digits: int = 0) -> str:
        from babel.numbers import format_percent

        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(value, format=pattern, locale=self.locale)

    def money(self, amount: float, currency: str = "BRL") -> str:
        from babel.numbers import format_currency

        return format_currency(amount, currency, locale=self.locale)

    def date(self, value: date | datetime, length: str = "short") -> str:
        from babel.dates import format_date

        return format_date(value, format=length, locale=self.locale)

    def time(self, value: datetime, length: str = "short") -> str:
        from babel.dates import format_time

        return format_time(value, format=length, locale=self.locale)

    def datetime(self, value: datetime, length: str = "short") -> str:
        from babel.dates import format_datetime

        return format_datetime(value, format=length, locale=self.locale)

    def ago(self, delta: timedelta) -> str:
        """'há 5 min.' / 'hace 5 min' / '5 min. ago' for a moment `delta` in the past."""
        from babel.dates import format_timedelta

        return format_timedelta(-abs(delta), add_direction=True, format="short", locale=self.locale)

    def duration(self, delta: timedelta) -> str:
        """'5 min' / '2 h' without a direction."""
        from babel.dates import format_timedelta

        return format_timedelta(delta, format="short", locale=self.locale)


def _pseudo(text: str) -> str:
    """⟦Ŝàvé····⟧: accented and 40% longer, so untranslated (plain) text and clipped labels stand out."""
    accents = str.maketrans("aeiouAEIOUcnsyCNSY", "àéîõûÀÉÎÕÛçñšýÇÑŠÝ")
    padding = "·" * max(1, int(len(text) * 0.4))
    # Placeholders ({name}, %s, %(name)s) stay as they are: the caller fills them after translating.
    parts = _PLACEHOLDER.split(text)
    accented = "".join(part if index % 2 else part.translate(accents) for index, part in enumerate(parts))
    return f"⟦{accented}{padding}⟧"


_PLACEHOLDER = re.compile(r"(\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_]+\)[sd]|%[sd])")


def load_catalogs(language: str, directory: Path | None = None) -> gettext.NullTranslations:
    """Every domain's compiled catalog for the language, chained (a missing one adds nothing)."""
    root = directory or locale_dir()
    chain: gettext.NullTranslations = gettext.NullTranslations()
    if language in (SOURCE_LANGUAGE, PSEUDO):
        return chain
    for domain in DOMAINS:
        try:
            catalog = gettext.translation(domain, localedir=str(root), languages=[language])
        except OSError:  # not compiled (a source checkout before `python -m core.i18n compile`): English
            continue
        catalog.add_fallback(chain)
        chain = catalog
    return chain


def translator_for(setting: str | None, environ: Mapping[str, str] | None = None,
                   directory: Path | None = None) -> Translator:
    """The Translator for the `ui.language` setting ("auto": the system locale)."""
    language = resolve_language(setting, environ)
    return Translator(language, load_catalogs(language, directory))


def compile_catalogs(directory: Path | None = None) -> list[Path]:
    """Compile every locale/<lang>/LC_MESSAGES/<domain>.po into its .mo (Babel); returns the files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = directory or locale_dir()
    written = []
    for po_path in sorted(root.glob("*/LC_MESSAGES/*.po")):
        with open(po_path, "rb") as source:
            catalog = read_po(source, locale=po_path.parent.parent.name)
        mo_path = po_path.with_suffix(".mo")
        with open(mo_path, "wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


def _repository() -> Path:
    return Path(__file__).resolve().parent.parent


def domain_files(domain: str, root: Path | None = None) -> list[Path]:
    """The Python files whose messages belong to a domain (see DOMAIN_SOURCES)."""
    base = root or _repository()
    order = list(DOMAIN_SOURCES)
    taken = {path for other in order[:order.index(domain)] for path in _named_files(other, base)}
    return [path for path in _named_files(domain, base) if path not in taken]


def _named_files(domain: str, base: Path) -> list[Path]:
    files: list[Path] = []
    for name in DOMAIN_SOURCES[domain]:
        path = base / name
        if path.is_dir():
            files += sorted(path.rglob("*.py"))
        elif path.exists():
            files.append(path)
    return files


def extract_messages(domain: str, root: Path | None = None) -> dict[str | tuple[str, str], list[str]]:
    """msgid (or (singular, plural)) -> where it is used, for one domain's files (Babel's Python extractor)."""
    from babel.messages.extract import extract_from_file

    base = root or _repository()
    found: dict[str | tuple[str, str], list[str]] = {}
    for path in domain_files(domain, base):
        for lineno, message, _comments, _context in extract_from_file("python", str(path),
                                                                     keywords=EXTRACT_KEYWORDS):
            found.setdefault(message, []).append(f"{path.relative_to(base)}:{lineno}")
    return found


def update_catalogs(root: Path | None = None) -> None:
    """Write locale/<domain>.pot from the code and bring every language's .po up to date with it (new messages
    untranslated, removed ones dropped). Translate the new entries' msgstr by hand, then compile."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    base = root or _repository()
    for domain in DOMAINS:
        template = Catalog(domain=domain, project="CRM Agent", charset="utf-8")
        for message, places in extract_messages(domain, base).items():
            template.add(message, locations=[(place.rsplit(":", 1)[0], int(place.rsplit(":", 1)[1]))
                                             for place in places])
        (base / "locale").mkdir(exist_ok=True)
        with open(base / "locale" / f"{domain}.pot", "wb") as out:
            write_po(out, template, width=120, omit_header=False, sort_output=True)
        for language in LANGUAGES:
            if language == SOURCE_LANGUAGE:
                continue
            po_path = base / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
            po_path.parent.mkdir(parents=True, exist_ok=True)
            if po_path.exists():
                with open(po_path, "rb") as source:
                    catalog = read_po(source, locale=language)
            else:
                catalog = Catalog(locale=language, domain=domain, project="CRM Agent", charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            with open(po_path, "wb") as out:
                write_po(out, catalog, width=120, sort_output=True, include_previous=False)


def catalog_problems(root: Path | None = None) -> list[str]:
    """What keeps the catalogs from matching the code: a message used but missing, one in a catalog but no longer
    used, one untranslated or fuzzy, one translated differently in two domains (tests/test_i18n.py fails on any)."""
    from babel.messages.pofile import read_po

    base = root or _repository()
    problems = _inconsistent_translations(base)
    for domain in DOMAINS:
        used = extract_messages(domain, base)
        used_ids = {m if isinstance(m, str) else m[0] for m in used}
        for language in LANGUAGES:
            if language == SOURCE_LANGUAGE:
                continue
            po_path = base / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
            if not po_path.exists():
                if used_ids:
                    problems.append(f"{po_path.relative_to(base)}: missing ({len(used_ids)} messages used)")
                continue
            with open(po_path, "rb") as source:
                catalog = read_po(source, locale=language)
            known = {message.id if isinstance(message.id, str) else message.id[0]: message
                     for message in catalog if message.id}
            for msgid in sorted(used_ids - set(known)):
                where = used.get(msgid) or next(v for k, v in used.items() if not isinstance(k, str) and k[0] == msgid)
                problems.append(f"{language}/{domain}: not in the catalog: {msgid!r} ({where[0]})")
            for msgid in sorted(set(known) - used_ids):
                problems.append(f"{language}/{domain}: in the catalog, not used: {msgid!r}")
            for msgid, message in known.items():
                if msgid not in used_ids:
                    continue
                strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
                if message.fuzzy or not all(strings):
                    problems.append(f"{language}/{domain}: {'fuzzy' if message.fuzzy else 'untranslated'}: {msgid!r}")
    return problems


def _inconsistent_translations(base: Path) -> list[str]:
    """The same English text translated two ways in two domains. The Translator chains every domain, so only one
    of them would show (whichever comes first), and the tray's menu and the window's menu must say the same."""
    from babel.messages.pofile import read_po

    problems = []
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        seen: dict[str, dict[str, Any]] = {}
        for domain in DOMAINS:
            po_path = base / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
            if not po_path.exists():
                continue
            with open(po_path, "rb") as source:
                for message in read_po(source, locale=language):
                    if message.id:
                        msgid = message.id if isinstance(message.id, str) else message.id[0]
                        string = message.string if isinstance(message.string, str) else tuple(message.string)
                        seen.setdefault(msgid, {})[domain] = string
        for msgid, by_domain in sorted(seen.items()):
            if len(set(by_domain.values())) > 1:
                problems.append(f"{language}: {msgid!r} is translated differently by domain: {by_domain}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else ""
    if command == "compile":
        for path in compile_catalogs():
            print(path)
        return 0
    if command == "update":
        update_catalogs()
        return 0
    if command == "check":
        problems = catalog_problems()
        print("\n".join(problems) or "catalogs match the code")
        return 1 if problems else 0
    print("usage: python -m core.i18n update|compile|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
