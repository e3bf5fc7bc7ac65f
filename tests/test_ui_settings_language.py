"""The settings, logs and connect windows in the user's language (issue 16, domain "settings"): Portuguese labels,
help, validation messages and pairing texts; the language setting by the languages' own names; the pseudo-locale at
1024x768 for clipping (screenshots of every tab, the logs and the connect windows); every setting has a label."""

from __future__ import annotations

import pytest

import windows.connect
from core import i18n
from core.config import SETTINGS, SETTINGS_BY_KEY
from desktop.extension_files import ExtensionFiles
from tests.helpers import start_service
from tests.pairing_helpers import start_pairing
from tests.ui_helpers import UiHarness
from windows.settings import TABS


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs():
    i18n.compile_catalogs()  # the .mo files are not in git


def in_language(ui: UiHarness, language: str) -> UiHarness:
    """The host's language as `ui.language` = language would make it (windows read it when they open)."""
    ui.app.tr = i18n.translator_for(language)
    return ui


@pytest.fixture
def service(tmp_path):
    running = start_service(tmp_path / "agent")
    yield running
    running.stop()


@pytest.fixture
def harness(display, service):
    ui = UiHarness(service.data_dir, display)
    yield ui
    ui.close()


def open_settings(ui):
    window = ui.app.open("settings")
    ui.pump(lambda: window.loaded, timeout=15, message="settings loaded")
    return window


def field_label(window, key: str) -> str:
    field = window.fields[key]
    grid = field.widget.master.master  # holder -> the tab's body
    row = int(field.widget.master.grid_info()["row"])
    return str(grid.grid_slaves(row=row, column=0)[0].cget("text"))


def test_every_setting_has_a_label_and_help():
    for setting in SETTINGS:
        assert setting.label.strip(), setting.key
        assert setting.label != setting.name.replace("_", " "), f"{setting.key}: a label, not the key"
        assert setting.help.strip(), setting.key
    assert SETTINGS_BY_KEY["ui.language"].label == "Language"


def test_settings_in_portuguese_show_labels_help_and_validation_in_portuguese(harness, service):
    window = open_settings(in_language(harness, "pt_BR"))
    assert window.top.title() == "CRM Agent — Configurações"
    titles = [window.notebook.tab(tab, "text") for tab in window.notebook.tabs()]
    assert titles == ["Geral", "Servidor", "IA", "Banco de dados", "Segurança", "Alertas", "Equipe", "Logs"]
    assert field_label(window, "ui.language") == "Idioma"
    assert window.fields["ui.language"].key_label.cget("text") == "ui.language"  # the key stays, small
    assert window.fields["ui.language"].help.cget("text").startswith("Idioma das janelas")
    assert field_label(window, "ai.n_ctx") == "Tamanho do contexto (tokens)"
    for key in window.fields:  # no raw "n ctx"-style label anywhere
        assert field_label(window, key) != SETTINGS_BY_KEY[key].name.replace("_", " "), key
    assert window.fields["server.port"].marker.cget("text") == "↻ reiniciar"
    assert window.save_button.cget("text") == "Salvar"

    # The language by the languages' own names; saving stores the value, and says a CRM Agent restart applies it.
    language = window.fields["ui.language"]
    assert list(language.widget.cget("values")) == ["Automático (idioma do sistema)", "English",
                                                   "Português (Brasil)", "Español"]
    assert language.var.get() == "Automático (idioma do sistema)"
    language.var.set("Português (Brasil)")
    assert language.value() == ("pt_BR", None)

    # A local check and the service's own check, both in Portuguese.
    port = window.fields["server.port"]
    port.var.set("70000")
    assert port.error == "o máximo é 65535"
    port.var.set("lots")
    assert port.error == "precisa ser um número inteiro"
    window.save()
    assert window.message.cget("text") == "Não salvo: corrija Porta."
    port.var.set("8080")
    database = window.fields["database.path"]
    database.var.set("/etc/crm.db")  # outside the data directory: only the service knows
    window.save()
    harness.pump(lambda: database.error, timeout=10, message="the service's message")
    assert database.error.startswith("o serviço grava este arquivo: ele precisa estar dentro da pasta de dados")
    assert window.message.cget("text").startswith("Não salvo: Arquivo do banco de dados: o serviço grava")
    database.var.set("")
    window.save()
    harness.pump(lambda: window.message.cget("text").startswith("Salvo."), timeout=10, message="saved")
    assert "Saia do CRM Agent (menu da bandeja) e abra de novo para aplicar: Idioma." in window.message.cget("text")
    assert service.get("/api/system/config").json()["settings"][0]  # the service still answers
    on_disk = (service.data_dir / "config.json").read_text()
    assert '"language": "pt_BR"' in on_disk
    for title, tab in window.tabs.items():
        window.notebook.select(tab)
        harness.screenshot(window.top, f"settings-pt_BR-{slug(title)}")


def test_settings_in_english_are_unchanged_but_labelled(harness):
    window = open_settings(in_language(harness, "en"))
    assert window.top.title() == "CRM Agent — Settings"
    assert field_label(window, "ai.n_ctx") == "Context size (tokens)"
    assert window.fields["ai.n_ctx"].key_label.cget("text") == "ai.n_ctx"
    assert window.fields["ui.language"].var.get() == "Automatic (system language)"
    window.fields["server.port"].var.set("70000")
    assert window.fields["server.port"].error == "must be <= 65535"


def slug(title: str) -> str:
    return title.lower().replace(" / ", "-").replace(" & ", "-").replace(" ", "-")


def test_the_pseudo_locale_marks_every_text_of_settings_logs_and_connect(harness, service, tmp_path, monkeypatch):
    """Screenshots at 1024x768 of every tab, the logs and the connect window in the pseudo-locale (⟦…⟧, 40% longer):
    every label is wrapped (nothing left in plain English) and they were looked at for clipping."""
    folder = tmp_path / "src" / "extension"
    folder.mkdir(parents=True)
    monkeypatch.setattr(windows.connect, "locate_extension", lambda _root: ExtensionFiles(folder, ()))
    ui = in_language(harness, "pseudo")
    window = open_settings(ui)
    window.top.geometry("1024x740+0+0")
    assert [window.notebook.tab(t, "text") for t in window.notebook.tabs()] == [
        ui.app.tr._(title) for title, _sections in TABS]
    assert all(field_label(window, key).startswith("⟦") for key in window.fields)
    for title, tab in window.tabs.items():
        window.notebook.select(tab)
        ui.screenshot(window.top, f"settings-pseudo-{slug(title)}")
    window.close()

    logs = ui.app.open("logs")
    logs.top.geometry("1024x740+0+0")
    ui.pump(lambda: logs.file_status.cget("text") or logs.empty.cget("text"), timeout=10, message="the log read")
    assert logs.pause_button.cget("text").startswith("⟦")
    ui.screenshot(logs.top, "logs-pseudo")
    logs.close()

    connect = ui.app.open("connect")
    connect.top.geometry("1024x740+0+0")
    ui.pump(lambda: connect.files is not None and connect.phase != "loading", timeout=15, message="connect loaded")
    ui.pump(lambda: ui.app.link.connected, timeout=15, message="the event stream")
    start_pairing(service.url)
    ui.pump(lambda: connect.phase == "code", timeout=15, message="the code")
    assert connect.headline.cget("text").startswith("⟦") and connect.countdown.cget("text").startswith("⟦")
    ui.screenshot(connect.top, "connect-pseudo")


def test_logs_and_connect_in_portuguese(harness, service, tmp_path, monkeypatch):
    folder = tmp_path / "src" / "extension"
    folder.mkdir(parents=True)
    monkeypatch.setattr(windows.connect, "locate_extension", lambda _root: ExtensionFiles(folder, ()))
    ui = in_language(harness, "pt_BR")
    log_file = service.data_dir / "logs" / "agent.log"
    with open(log_file, "a", encoding="utf-8") as f:
        f.write("2026-11-29 10:00:00,000 INFO crm_agent.test: uma linha\n")
    logs = ui.app.open("logs")
    ui.pump(lambda: "exibidas" in logs.file_status.cget("text") or "exibida" in logs.file_status.cget("text"),
            timeout=10, message="the status line")
    assert logs.top.title() == "CRM Agent — Logs"
    assert logs.pause_button.cget("text") == "Pausar" and logs.older_button.cget("text") == "Linhas anteriores"
    assert "acompanhando" in logs.file_status.cget("text")
    logs.toggle_pause()
    assert logs.pause_button.cget("text") == "Continuar" and "pausado" in logs.file_status.cget("text")
    logs.search_var.set("linha")
    logs.find()
    assert logs.match_label.cget("text") == "1 resultado"
    logs.search_var.set("nada-disso")
    logs.find()
    assert logs.match_label.cget("text") == "nada encontrado"
    ui.screenshot(logs.top, "logs-pt_BR")
    logs.close()

    connect = ui.app.open("connect")
    ui.pump(lambda: connect.files is not None and connect.phase != "loading", timeout=15, message="connect loaded")
    ui.pump(lambda: ui.app.link.connected, timeout=15, message="the event stream")
    assert connect.top.title() == "Conectar o WhatsApp Web"
    assert connect.headline.cget("text") == "Aguardando o navegador…"
    start_pairing(service.url)
    ui.pump(lambda: connect.phase == "code", timeout=15, message="the code")
    assert connect.headline.cget("text") == "Digite este código na página de opções da extensão"
    assert connect.requester.cget("text").endswith(" quer se conectar")
    assert connect.countdown.cget("text").startswith("Expira em ")
    assert connect.deny_button.cget("text") == "Recusar"
    ui.screenshot(connect.top, "connect-pt_BR")
    connect.pairing_ended(str(connect.shown["pairing_id"]), "expired")
    assert "O último pedido expirou." in connect.detail.cget("text")
