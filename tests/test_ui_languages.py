"""The dashboard window in the user's language, against a real service under Xvfb: Portuguese and Spanish tab
names (with Alt-key letters of their own), headings, labels of the API's values (the filters still send the
API's English values), numbers and dates in the locale's format; English unchanged; and a pseudo-locale run
(every message 40% longer) at 1024x768 in which no label or button of any tab or dialog is clipped.

Screenshots (folder printed at the end of the run): dashboard-pt_BR-*.png for the README, pseudo-*.png.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from datetime import datetime, timezone
from tkinter import ttk

import pytest

from core.config import load_config
from core.i18n import translator_for
from tests.helpers import message, start_service
from tests.test_ui_dashboard import open_dashboard, seed
from tests.ui_helpers import UiHarness

OLD_MESSAGE_AT = datetime(2026, 1, 15, 15, 30, tzinfo=timezone.utc)  # a date before today: shown with its date
KNOWLEDGE = [
    {"title": "Frete para BH", "content": "Entregamos em BH em 2 dias úteis. Frete R$ 15,00; grátis acima de R$ 200.",
     "language": "pt", "tags": ["frete", "entrega"], "shortcut": "frete"},
    {"title": "Formas de pagamento", "content": "Pix, cartão em até 3x sem juros e boleto.", "language": "pt",
     "tags": ["pagamento"], "shortcut": "pix"},
    {"title": "Horário de atendimento", "content": "Segunda a sábado, das 9h às 18h.", "language": None,
     "tags": ["horário"], "shortcut": None},
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("ui-lang") / "agent",
                            {"monitor": {"sample_interval_s": 0.2, "memory_percent": 0, "sustain_s": 0,
                                         "cpu_percent": 100, "disk_percent": 100}})
    seed(running)
    old = message(phone="+55 31 97777-0001", name="Dona Lúcia", chat_id="5531977770001@c.us",
                  content="Bom dia! Vocês entregam em Belo Horizonte?", direction="in",
                  timestamp=int(OLD_MESSAGE_AT.timestamp() * 1000))
    r = running.post("/api/messages/capture", json=old)
    assert r.status_code == 201, r.text
    running.old_message_id = r.json()["id"]
    for entry in KNOWLEDGE:
        r = running.post("/api/knowledge", json=entry)
        assert r.status_code == 201, r.text
    yield running
    running.stop()


def harness_in(language: str, service, display) -> UiHarness:
    # "pseudo" is a test language, not a choice of the setting: a mapping stands in for the Config there.
    config = {"ui.language": language} if language == "pseudo" else \
        load_config(None).with_overrides({"ui.language": language})
    return UiHarness(service.data_dir, display, config)


@pytest.fixture
def ui_pt(display, service):
    harness = harness_in("pt_BR", service, display)
    yield harness
    harness.close()


def tab_texts(window) -> list[tuple[str, int]]:
    notebook = window.notebook
    return [(notebook.tab(i, "text"), int(notebook.tab(i, "underline"))) for i in range(notebook.index("end"))]


def api(service, path: str):
    r = service.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def headings(tree: ttk.Treeview) -> list[str]:
    return [tree.heading(column, "text") for column in tree["columns"]]


def test_the_dashboard_speaks_portuguese(ui_pt, service):
    window = open_dashboard(ui_pt)
    assert window.top.title() == "CRM Agent — Painel"
    tabs = tab_texts(window)
    assert [text for text, _ in tabs] == ["Visão geral", "Mensagens", "Clientes", "Base de conhecimento"]
    letters = [text[underline].lower() for text, underline in tabs]
    assert len(set(letters)) == 4, letters  # each tab its own Alt-key letter
    window.top.focus_force()
    ui_pt.pump(timeout=0.2)
    window.notebook.event_generate("<Alt-KeyPress-b>", when="tail")  # Alt+B: "Base de conhecimento"
    ui_pt.pump(lambda: window.notebook.index("current") == 3, timeout=5, message="Alt+B to select the Knowledge tab")
    window.notebook.select(0)

    overview = window.overview
    assert overview.cards["messages"].title.cget("text") == "Mensagens hoje"
    assert headings(overview.recent.tree)[:2] == ["Hora", "Cliente"]
    dash = api(service, "/api/metrics/dashboard")
    tr = translator_for("pt_BR")
    assert overview.cards["conversion"].value.cget("text") == tr.percent(dash["conversion_rate"], 1)
    assert "," in overview.cards["conversion"].value.cget("text")  # 12,5% — the decimal comma
    assert "em relação a ontem" in overview.cards["messages"].delta.cget("text") or \
        "ontem" in overview.cards["messages"].delta.cget("text")
    assert window.status.cget("text").startswith("Painel atualizado às ")
    assert overview.charts.ax_hours.get_title(loc="left") == "Mensagens por hora (últimas 24 h)"
    shown = {t.get_text() for t in overview.charts.ax_sentiment.get_yticklabels()}
    assert shown == {"Positivo", "Neutro", "Negativo"}
    menu_labels = [window.menu.bar.entrycget(i, "label") for i in (1, 2)]
    assert menu_labels == ["Agente", "Janela"]
    ui_pt.screenshot(window.top, "dashboard-pt_BR-overview")

    # Messages: the labels shown are Portuguese, the filter sends the API's value.
    window.notebook.select(window.messages)
    pane = window.messages
    page = api(service, "/api/messages?limit=50")
    ui_pt.pump(lambda: [iid for iid, _ in pane.list.rows()] == [str(m["id"]) for m in page["items"]],
               message="the first page of messages")
    assert pane.pager.label.cget("text") == f"1–50 de {page['total']}"
    assert headings(pane.list.tree)[3:5] == ["Mensagem", "Sentimento"]
    pane.sentiment.set("negativo")
    pane.reload()
    negative = api(service, "/api/messages?limit=50&sentiment=negative")
    ui_pt.pump(lambda: [iid for iid, _ in pane.list.rows()] == [str(m["id"]) for m in negative["items"]],
               message="only negative messages")
    assert {values[4] for _, values in pane.list.rows()} == {"negativo"}
    first = negative["items"][0]
    pane.list.tree.selection_set(str(first["id"]))
    ui_pt.pump(lambda: pane.detail is not None and pane.detail["id"] == first["id"], message="the detail")
    assert pane.analysis_label.cget("text").startswith("Sentimento: negativo")
    assert pane.detail_title.cget("text").startswith("Mensagem de ")
    ui_pt.screenshot(window.top, "dashboard-pt_BR-messages")

    # A date before today in the locale's format ("15 de jan."), and a Portuguese date in the filter.
    pane.clear_filters()
    pane.open_message(service.old_message_id)
    ui_pt.pump(lambda: pane.detail is not None and pane.detail["id"] == service.old_message_id,
               message="the old message")
    assert "15 de jan." in pane.detail_meta.cget("text") and " · texto · idioma " in pane.detail_meta.cget("text")
    pane.date_from.insert(0, "15/01/2026")
    pane.date_to.insert(0, "15/01/2026")
    pane.reload()
    ui_pt.pump(lambda: [iid for iid, _ in pane.list.rows()] == [str(service.old_message_id)],
               message="the day typed as 15/01/2026")
    shown_time = pane.list.rows()[0][1][0]  # the list's compact date, day first: "15/01 09:30", never cut
    assert shown_time.startswith("15/01 ")
    assert pane.list.tree.column("time", "width") >= tkfont.nametofont("TkDefaultFont").measure(shown_time) + 8
    pane.date_from.delete(0, "end")
    pane.date_from.insert(0, "ontem")
    pane.reload()
    assert pane.error.cget("text") == "De: use uma data como 29/11/2026"
    pane.clear_filters()

    # Customers: headings, the status shown in Portuguese and saved as the API's value.
    window.notebook.select(window.customers)
    customers = window.customers
    ui_pt.pump(lambda: customers.list.rows(), message="the customers")
    assert headings(customers.list.tree)[:3] == ["Nome", "Telefone", "Status"]
    phone = customers.list.rows()[0][0]
    customers.list.tree.selection_set(phone)
    ui_pt.pump(lambda: customers.profile is not None and customers.profile["phone"] == phone, message="a profile")
    assert "mensage" in customers.profile_meta.cget("text")  # "1 mensagem" / "9 mensagens"
    customers.status.set("cliente")
    customers.save()
    ui_pt.pump(lambda: customers.save_status.cget("text") == "Salvo", message="the save")
    assert api(service, f"/api/customers/{phone.replace('+', '%2B').replace(' ', '%20')}")["status"] == "customer"
    ui_pt.screenshot(window.top, "dashboard-pt_BR-customers")

    window.notebook.select(window.knowledge)
    knowledge = window.knowledge
    ui_pt.pump(lambda: len(knowledge.list.rows()) == len(KNOWLEDGE), message="the knowledge entries")
    assert headings(knowledge.list.tree)[:2] == ["Título", "Atalho"]
    assert any(values[2] == "qualquer" for _, values in knowledge.list.rows())  # no language: "any"
    knowledge.list.tree.selection_set(knowledge.list.rows()[0][0])
    ui_pt.pump(lambda: knowledge.selected_entry() is not None, message="the selected entry")
    ui_pt.screenshot(window.top, "dashboard-pt_BR-knowledge")
    dialog = knowledge.add_dialog()
    ui_pt.pump(timeout=0.3)
    assert dialog.top.title() == "Nova resposta"
    ui_pt.screenshot(dialog.top, "dashboard-pt_BR-knowledge-dialog")
    dialog.close()


def test_the_dashboard_speaks_spanish_and_english_is_unchanged(display, service):
    spanish = harness_in("es", service, display)
    try:
        window = open_dashboard(spanish)
        assert [text for text, _ in tab_texts(window)] == ["Resumen", "Mensajes", "Clientes", "Base de conocimiento"]
        assert headings(window.overview.recent.tree)[:4] == ["Hora", "Cliente", "", "Mensaje"]
        window.notebook.select(window.messages)
        total = api(service, "/api/messages?limit=1")["total"]
        spanish.pump(lambda: window.messages.pager.label.cget("text") == f"1–50 de {total}",
                     message="the Spanish pager")
    finally:
        spanish.close()

    english = harness_in("en", service, display)
    try:
        window = open_dashboard(english)
        assert tab_texts(window) == [("Overview", 0), ("Messages", 0), ("Customers", 0), ("Knowledge", 0)]
        assert window.overview.cards["messages"].title.cget("text") == "Messages today"
        assert headings(window.overview.recent.tree)[:2] == ["Time", "Customer"]
    finally:
        english.close()


# -- pseudo-locale: nothing clipped at 1024x768 ------------------------------------------------------------


def clipped(top: tk.Misc) -> list[str]:
    """The shown labels and buttons narrower than their text asks for (a clipped word), by path and text."""
    found = []
    stack = [top]
    while stack:
        widget = stack.pop()
        stack.extend(widget.winfo_children())
        if isinstance(widget, ttk.Treeview) and widget.winfo_ismapped():
            found += clipped_headings(widget)
        if not isinstance(widget, (ttk.Label, ttk.Button, ttk.Checkbutton)) or not widget.winfo_ismapped():
            continue
        if widget.winfo_width() + 1 < widget.winfo_reqwidth():
            found.append(f"{widget} {widget.cget('text')!r}: {widget.winfo_width()} < {widget.winfo_reqwidth()}")
    return found


def clipped_headings(tree: ttk.Treeview) -> list[str]:
    font = tkfont.Font(tree, font=ttk.Style(tree).lookup("Treeview.Heading", "font") or "TkHeadingFont")
    found = []
    for column in tree["columns"]:
        text = tree.heading(column, "text")
        if text and int(tree.column(column, "width")) < font.measure(text) + 8:
            found.append(f"{tree} heading {text!r}: {tree.column(column, 'width')} < {font.measure(text) + 8}")
    total = sum(int(tree.column(column, "width")) for column in tree["columns"])
    if total > tree.winfo_width() + 2:
        found.append(f"{tree}: its columns take {total} pixels, it shows {tree.winfo_width()}")
    return found


def test_pseudo_locale_clips_nothing_at_1024x768(display, service):
    ui = harness_in("pseudo", service, display)
    try:
        window = open_dashboard(ui)
        window.top.geometry("1024x740+0+0")  # the whole screen less the panel a desktop keeps
        ui.pump(timeout=0.5)
        assert all(text.startswith("⟦") for text, _ in tab_texts(window))  # every tab name went through tr
        # The Alt letter follows the "&" inside the translated text ("⟦&Kñõwlédgé" -> K, index 1, not "⟦").
        assert tab_texts(window)[3][1] == 1
        window.top.focus_force()
        ui.pump(timeout=0.2)
        window.notebook.event_generate("<Alt-KeyPress-k>", when="tail")
        ui.pump(lambda: window.notebook.index("current") == 3, timeout=5, message="Alt+K to select Knowledge")
        problems = {}
        for index, name in enumerate(("overview", "messages", "customers", "knowledge")):
            window.notebook.select(index)
            pane = (window.overview, window.messages, window.customers, window.knowledge)[index]
            if name == "messages":
                ui.pump(lambda: window.messages.list.rows(), message="messages")
                window.messages.list.tree.selection_set(window.messages.list.rows()[0][0])
                ui.pump(lambda: window.messages.detail is not None, message="a message's detail")
            elif name == "customers":
                ui.pump(lambda: window.customers.list.rows(), message="customers")
                window.customers.list.tree.selection_set(window.customers.list.rows()[0][0])
                ui.pump(lambda: window.customers.profile is not None, message="a profile")
            elif name == "knowledge":
                ui.pump(lambda: window.knowledge.list.rows(), message="knowledge")
                window.knowledge.list.tree.selection_set(window.knowledge.list.rows()[0][0])
            ui.pump(timeout=0.5)
            problems[name] = clipped(pane)
            ui.screenshot(window.top, f"pseudo-{name}")
        notebook = window.notebook  # the tab names fit: nothing but the tab row's background at its right end
        problems["tabs"] = [] if notebook.identify(notebook.winfo_width() - 4, 12) == "" else [
            "the tab names fill the whole width of the window"]
        dialog = window.knowledge.add_dialog()
        ui.pump(timeout=0.5)
        problems["dialog"] = clipped(dialog.top)
        assert dialog.top.winfo_width() <= 1024 and dialog.top.winfo_height() <= 768
        ui.screenshot(dialog.top, "pseudo-knowledge-dialog")
        dialog.close()
        assert not any(problems.values()), "\n".join(f"{tab}: {line}" for tab, lines in problems.items()
                                                   for line in lines)
    finally:
        ui.close()


def test_shortcut_letters_differ_in_every_language():
    from windows.dashboard import TAB_NAMES
    from windows.widgets import mnemonic

    for language in ("en", "pt_BR", "es", "pseudo"):
        tr = translator_for(language)
        letters = []
        for name in TAB_NAMES:
            text, underline = mnemonic(tr._(name))
            assert "&" not in text
            letters.append(text[underline].lower())
        assert len(set(letters)) == len(letters), (language, letters)
