"""The Knowledge tab, the grounded suggestion's source and "Draft with AI" in the message detail, against a real
service under Xvfb: what the tab does is checked in the API's state afterwards (add, edit, search, delete, a
validation error under its field, a CSV import with a bad row, an export that imports back), the tab follows
"knowledge.changed", the message detail names the entry a reply came from, and a draft streams into its box
(the real llama.cpp with the bundled model). Screenshots are saved with the other UI tests' (folder printed at
the end of the run)."""

from __future__ import annotations

import csv
import io

import pytest

from core.i18n import Translator
from tests.helpers import message, start_service
from tests.ui_helpers import UiHarness
from windows.knowledge import EMPTY_INVITATION, entry_body, entry_row, import_summary
from windows.messages import DRAFT_NOTE, LLM_OFF, draft_figures, knowledge_title
from windows.widgets import get_text

FRETE = {"title": "Frete para BH", "content": "O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis.",
         "language": "pt", "tags": ["frete", "entrega"], "shortcut": "frete"}
PIX = {"title": "Pagamento por Pix", "content": "Aceitamos Pix, cartão em até 3x sem juros e boleto.",
       "language": "pt", "tags": ["pagamento"], "shortcut": "pix"}
HOURS = {"title": "Opening hours", "content": "We are open Monday to Saturday, 9 am to 6 pm.", "language": "en",
         "tags": ["hours"], "shortcut": None}


@pytest.fixture(scope="module")
def knowledge_service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("ui-knowledge") / "agent")
    yield service
    service.stop()


@pytest.fixture
def ui(display, knowledge_service):
    harness = UiHarness(knowledge_service.data_dir, display)
    yield harness
    harness.close()


def api_entries(service, q: str = "") -> list[dict]:
    r = service.get("/api/knowledge", params={"q": q, "limit": 200} if q else {"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def clear_knowledge(service) -> None:
    for entry in api_entries(service):
        assert service.request("DELETE", f"/api/knowledge/{entry['id']}").status_code == 204


def add_entry(service, entry: dict) -> dict:
    r = service.post("/api/knowledge", json={k: v for k, v in entry.items() if v is not None})
    assert r.status_code == 201, r.text
    return r.json()


def open_knowledge(ui: UiHarness):
    window = ui.app.open("dashboard")
    ui.pump(lambda: window.first_render_ms is not None, timeout=20, message="the dashboard's first render")
    window.notebook.select(window.knowledge)
    return window, window.knowledge


def shown_ids(pane) -> list[str]:
    return [iid for iid, _ in pane.list.rows()]


def wait_for_rows(ui, pane, service, message: str, q: str = "") -> None:
    ui.pump(lambda: shown_ids(pane) == [str(e["id"]) for e in api_entries(service, q)]
            and pane.list.tree.get_children() != (), timeout=15, message=message)


# -- the Knowledge tab ---------------------------------------------------------------------------------


def test_an_empty_knowledge_base_tells_a_first_time_user_what_to_put_there(ui, knowledge_service):
    clear_knowledge(knowledge_service)
    window, pane = open_knowledge(ui)
    ui.pump(lambda: pane.invitation.winfo_ismapped(), timeout=15, message="the empty state's invitation")
    assert "delivery fees" in EMPTY_INVITATION and "/shortcut" in EMPTY_INVITATION
    assert pane.list.message_text == "No entries yet"
    ui.screenshot(window.top, "knowledge-empty")


def test_add_edit_search_and_delete_through_the_tab(ui, knowledge_service):
    clear_knowledge(knowledge_service)
    add_entry(knowledge_service, HOURS)
    window, pane = open_knowledge(ui)
    wait_for_rows(ui, pane, knowledge_service, "the seeded entry")
    assert not pane.invitation.winfo_ismapped()

    # Add: the dialog's text becomes the API's entry (the shortcut typed with its "/", tags split).
    dialog = pane.add_dialog()
    dialog.set_value("title", FRETE["title"])
    dialog.set_value("content", FRETE["content"])
    dialog.set_value("language", "pt")
    dialog.set_value("tags", "frete, entrega")
    dialog.set_value("shortcut", "/frete")
    dialog._ok()
    ui.pump(lambda: not dialog.top.winfo_exists(), timeout=15, message="the add dialog closed")
    [created] = [e for e in api_entries(knowledge_service) if e["title"] == FRETE["title"]]
    assert (created["content"], created["language"], created["tags"], created["shortcut"]) == (
        FRETE["content"], "pt", ["frete", "entrega"], "frete")
    wait_for_rows(ui, pane, knowledge_service, "the new entry in the list")
    assert dict(pane.list.rows())[str(created["id"])][:3] == [FRETE["title"], "/frete", "pt"]

    # A refused edit: the service's validation error is shown under the field it names; nothing changes.
    pane.list.tree.selection_set(str(created["id"]))
    ui.pump(lambda: pane.selected_entry() is not None, message="the selection")
    dialog = pane.edit_selected()
    assert dialog is not None and dialog.values()["shortcut"] == "/frete"
    dialog.set_value("title", "")
    dialog._ok()
    ui.pump(lambda: dialog.field_error("title"), timeout=15, message="the title's error under its field")
    assert dialog.top.winfo_exists()
    assert knowledge_service.get(f"/api/knowledge/{created['id']}").json()["title"] == FRETE["title"]
    ui.screenshot(dialog.top, "knowledge-dialog-field-error")

    # Edit: saved with PATCH, the list row follows.
    dialog.set_value("title", "Frete para Belo Horizonte")
    dialog.set_value("shortcut", "")
    dialog._ok()
    ui.pump(lambda: not dialog.top.winfo_exists(), timeout=15, message="the edit dialog closed")
    edited = knowledge_service.get(f"/api/knowledge/{created['id']}").json()
    assert (edited["title"], edited["shortcut"]) == ("Frete para Belo Horizonte", None)
    ui.pump(lambda: dict(pane.list.rows()).get(str(created["id"]), [""])[0] == "Frete para Belo Horizonte",
            timeout=15, message="the edited row")

    # Search: the list shows what GET /api/knowledge?q= returns.
    pane.search.var.set("Monday")
    pane.reload()
    wait_for_rows(ui, pane, knowledge_service, "the search results", q="Monday")
    assert [values[0] for _iid, values in pane.list.rows()] == ["Opening hours"]
    pane.search.clear()
    wait_for_rows(ui, pane, knowledge_service, "every entry again")
    pane.list.tree.selection_set(str(created["id"]))
    ui.pump(lambda: pane.preview_title.cget("text") == "Frete para Belo Horizonte", message="the preview")
    assert get_text(pane.preview) == FRETE["content"]
    ui.screenshot(window.top, "knowledge-tab")

    # Delete: asked first; "no" keeps it, "yes" deletes it.
    pane.list.tree.selection_set(str(created["id"]))
    ui.pump(lambda: pane.selected_entry() is not None, message="the selection")
    asked = []
    pane.confirm = lambda title, text: asked.append(text) or False
    pane.delete_selected()
    assert asked and "Frete para Belo Horizonte" in asked[0]
    ui.pump(timeout=0.3)
    assert knowledge_service.get(f"/api/knowledge/{created['id']}").status_code == 200
    pane.confirm = lambda title, text: True
    pane.delete_selected()
    ui.pump(lambda: str(created["id"]) not in shown_ids(pane), timeout=15, message="the deleted row gone")
    assert knowledge_service.get(f"/api/knowledge/{created['id']}").status_code == 404


def test_the_tab_follows_changes_made_elsewhere(ui, knowledge_service):
    clear_knowledge(knowledge_service)
    _window, pane = open_knowledge(ui)
    ui.pump(lambda: pane.list.message_text == "No entries yet", timeout=15, message="the empty list")
    entry = add_entry(knowledge_service, PIX)  # through the API, not the window: the event refreshes the tab
    ui.pump(lambda: str(entry["id"]) in shown_ids(pane), timeout=15, message="the knowledge.changed refresh")
    assert not pane.invitation.winfo_ismapped()


def test_csv_import_says_the_counts_and_the_bad_line_and_export_imports_back(ui, knowledge_service, tmp_path):
    clear_knowledge(knowledge_service)
    add_entry(knowledge_service, FRETE)
    window, pane = open_knowledge(ui)
    wait_for_rows(ui, pane, knowledge_service, "the first entry")
    source = tmp_path / "import.csv"
    source.write_text("title,content,language,tags,shortcut\n"
                      "Frete para BH,O frete para BH é R$ 20.,pt,frete,frete\n"  # same shortcut: an update
                      "Pagamento por Pix,Aceitamos Pix e cartão.,pt,pagamento;pix,pix\n"
                      ",a row without a title,pt,,\n"  # line 4: refused
                      "Trocas,Trocas em até 7 dias.,pt,trocas,\n", encoding="utf-8")
    pane.ask_open_path = lambda: str(source)
    pane.import_csv()
    ui.pump(lambda: pane.result.cget("text").startswith("Import:"), timeout=15, message="the import's result")
    result = pane.result.cget("text")
    assert "2 created, 1 updated, 1 row with errors: line 4:" in result, result
    titles = {e["title"] for e in api_entries(knowledge_service)}
    assert titles == {"Frete para BH", "Pagamento por Pix", "Trocas"}
    wait_for_rows(ui, pane, knowledge_service, "the imported entries")
    ui.screenshot(window.top, "knowledge-import-result")

    target = tmp_path / "export.csv"
    pane.ask_save_path = lambda: str(target)
    pane.export_csv()
    ui.pump(lambda: pane.result.cget("text").startswith("Exported"), timeout=15, message="the export")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))  # Excel's BOM kept
    assert {r["title"] for r in rows} == titles
    assert "Exported 3 entries" in pane.result.cget("text")


# -- the message detail --------------------------------------------------------------------------------


def test_the_message_detail_names_the_knowledge_entry_a_reply_came_from(ui, knowledge_service):
    clear_knowledge(knowledge_service)
    entry = add_entry(knowledge_service, FRETE)
    r = knowledge_service.post("/api/messages/capture", json=message(content="quanto é o frete pra BH?"))
    assert r.status_code == 201, r.text
    message_id = r.json()["id"]
    detail = knowledge_service.get(f"/api/messages/{message_id}").json()
    assert "25" in detail["analysis"]["suggested_responses"][0]  # grounded at capture
    assert detail["analysis"]["knowledge"]["entry_id"] == entry["id"], detail["analysis"]
    window = ui.app.open("dashboard")
    ui.pump(lambda: window.first_render_ms is not None, timeout=20, message="the dashboard")
    window.show_message(message_id)
    pane = window.messages
    ui.pump(lambda: pane.detail is not None and pane.detail["id"] == message_id, timeout=15, message="the detail")
    assert pane.shown_source == f"From your knowledge: {FRETE['title']}"
    assert pane.shown_reply(0) == detail["analysis"]["suggested_responses"][0]

    # A message the knowledge does not answer: no source is claimed.
    r = knowledge_service.post("/api/messages/capture", json=message(content="Obrigada, adorei o atendimento!"))
    other = r.json()["id"]
    window.show_message(other)
    ui.pump(lambda: pane.detail is not None and pane.detail["id"] == other, timeout=15, message="the other detail")
    assert pane.shown_source == ""


def test_the_source_line_is_drawn_from_the_analysis_knowledge_field(ui, knowledge_service):
    """The rendering from a message dict with "knowledge" set: the service's own grounding of the text
    (POST /api/analysis/generate, the real retrieval) put on the stored message, whatever the storage keeps."""
    clear_knowledge(knowledge_service)
    add_entry(knowledge_service, FRETE)
    text = "quanto é o frete pra BH?"
    r = knowledge_service.post("/api/messages/capture", json=message(content=text))
    detail = knowledge_service.get(f"/api/messages/{r.json()['id']}").json()
    grounded = knowledge_service.post("/api/analysis/generate", json={"text": text, "engine": "rules"}).json()
    assert grounded["knowledge"]["title"] == FRETE["title"], grounded
    window = ui.app.open("dashboard")
    ui.pump(lambda: window.first_render_ms is not None, timeout=20, message="the dashboard")
    window.notebook.select(window.messages)
    pane = window.messages
    ui.pump(lambda: str(detail["id"]) in [iid for iid, _ in pane.list.rows()], timeout=15, message="the list")
    pane.list.tree.selection_set(str(detail["id"]))
    ui.pump(lambda: pane.detail is not None and pane.detail["id"] == detail["id"], timeout=15, message="the detail")
    analysis = {**detail["analysis"], "knowledge": grounded["knowledge"],
                "suggested_responses": grounded["suggested_responses"]}
    pane._detail_seq += 1
    pane._detail_loaded(pane._detail_seq, {**detail, "analysis": analysis})
    ui.pump(timeout=0.2)
    assert pane.shown_source == "From your knowledge: Frete para BH"
    assert pane.knowledge_source.winfo_ismapped()
    assert pane.shown_reply(0) == grounded["suggested_responses"][0] and "R$ 25" in pane.shown_reply(0)
    ui.screenshot(window.top, "messages-grounded-suggestion")
    pane._detail_loaded(pane._detail_seq, {**detail, "analysis": {**analysis, "knowledge": None}})
    ui.pump(timeout=0.2)
    assert pane.shown_source == "" and not pane.knowledge_source.winfo_ismapped()


def test_draft_events_grow_the_box_and_only_the_asked_draft_is_shown(ui, knowledge_service):
    """The reply.draft.* events as the event stream delivers them (ServiceLink → dashboard → pane): tokens
    append, another draft's events are ignored, events that overtake the POST's answer are kept for it."""
    from windows.messages import DraftState

    r = knowledge_service.post("/api/messages/capture", json=message(content="vocês entregam em BH?"))
    message_id = r.json()["id"]
    window = ui.app.open("dashboard")
    window.show_message(message_id)
    pane = window.messages
    ui.pump(lambda: pane.detail is not None and pane.detail["id"] == message_id, timeout=15, message="the detail")
    deliver = ui.app.link._deliver_event
    pane.draft = DraftState(message_id=message_id, running=True)  # asked; the POST's answer not back yet
    pane._draft_buttons()
    deliver({"type": "reply.draft.token", "data": {"draft_id": "d-1", "text": "O frete "}})
    assert pane.shown_draft == ""  # kept until the answer names the draft
    pane._draft_started(pane.draft, {"draft_id": "d-1", "message_id": message_id, "knowledge": [3]})
    assert pane.shown_draft == "O frete "
    deliver({"type": "reply.draft.token", "data": {"draft_id": "other", "text": "NOT OURS"}})
    deliver({"type": "reply.draft.token", "data": {"draft_id": "d-1", "text": "é R$ 25."}})
    assert pane.shown_draft == "O frete é R$ 25."
    assert "disabled" not in pane.draft_cancel.state() and "disabled" in pane.draft_copy.state()
    deliver({"type": "reply.draft.completed", "data": {"draft_id": "d-1", "text": "O frete é R$ 25.", "tokens": 9,
                                                       "ttft_ms": 310.0, "tokens_per_s": 21.4}})
    assert pane.draft.done and not pane.draft.running
    assert pane.draft_stats.cget("text") == "first words after 310 ms · 21.4 tokens/s · 9 tokens"
    assert pane.draft_status.cget("text") == DRAFT_NOTE
    assert "disabled" in pane.draft_cancel.state() and "disabled" not in pane.draft_copy.state()

    pane.draft = DraftState(message_id=message_id, running=True)
    pane.draft.draft_id = "d-2"
    deliver({"type": "reply.draft.failed", "data": {"draft_id": "d-2", "error": "the model crashed"}})
    assert pane.draft_status.cget("text") == "The draft failed: the model crashed"
    assert pane.draft_status.cget("style") == "FieldError.TLabel"


def test_draft_with_the_model_turned_off_says_how_to_turn_it_on(ui, knowledge_service):
    r = knowledge_service.post("/api/messages/capture", json=message(content="vocês entregam em BH?"))
    message_id = r.json()["id"]
    window = ui.app.open("dashboard")
    window.show_message(message_id)
    pane = window.messages
    ui.pump(lambda: pane.detail is not None and pane.detail["id"] == message_id, timeout=15, message="the detail")
    pane.draft_button.invoke()
    ui.pump(lambda: pane.draft_status.cget("text") == LLM_OFF, timeout=15, message="the llm_disabled answer")
    assert "Settings → AI" in LLM_OFF
    assert pane.shown_draft == "" and not pane.draft.running
    assert "disabled" not in pane.draft_button.state()


@pytest.fixture(scope="module")
def llm_service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("ui-draft") / "agent", llm=True, timeout=60)
    yield service
    service.stop()


def test_draft_with_ai_streams_into_the_box_and_can_be_copied(display, llm_service):
    ui = UiHarness(llm_service.data_dir, display)
    try:
        add_entry(llm_service, FRETE)
        r = llm_service.post("/api/messages/capture", json=message(content="quanto é o frete pra BH?"))
        message_id = r.json()["id"]
        window = ui.app.open("dashboard")
        window.show_message(message_id)
        pane = window.messages
        ui.pump(lambda: pane.detail is not None and pane.detail["id"] == message_id, timeout=15,
                message="the detail")
        ui.pump(lambda: ui.app.link.connected, timeout=15, message="the event stream")
        pane.draft_button.invoke()
        assert "disabled" not in pane.draft_cancel.state()
        while_running = []  # the box's text seen while the draft was still running
        ui.pump(lambda: (pane.draft.running and while_running.append(pane.shown_draft)) or pane.draft.done
                or pane.draft_status.cget("style") == "FieldError.TLabel", timeout=120, message="the draft")
        assert pane.draft.done, pane.draft_status.cget("text")
        assert any(while_running), "no text was shown before the draft completed"  # streamed, not in one piece
        assert pane.shown_draft.strip() and pane.shown_draft == pane.draft.text
        assert "tokens/s" in pane.draft_stats.cget("text") and "first words after" in pane.draft_stats.cget("text")
        assert pane.draft_status.cget("text") == DRAFT_NOTE
        assert "disabled" in pane.draft_cancel.state()
        ui.root.clipboard_clear()
        pane.draft_copy.invoke()
        assert ui.root.clipboard_get() == pane.draft.text
        ui.screenshot(window.top, "messages-ai-draft")

        # Cancel while it runs (the model needs seconds for its first token): the pane stops at once and the
        # service is told (DELETE), which ends the draft with reply.draft.cancelled.
        endings = []
        ui.app.link.on_event(lambda e: endings.append((e.get("type"), (e.get("data") or {}).get("draft_id")))
                             if str(e.get("type")) in ("reply.draft.cancelled", "reply.draft.completed") else None)
        pane.draft_button.invoke()
        ui.pump(lambda: pane.draft.draft_id, timeout=15, message="the draft's id")
        pane.draft_cancel.invoke()
        assert not pane.draft.running and pane.draft_status.cget("text").startswith("Draft cancelled")
        ui.pump(lambda: endings, timeout=30, message="the draft's end in the service")
        assert endings == [("reply.draft.cancelled", pane.draft.draft_id)]
    finally:
        ui.close()


def test_the_model_test_shows_time_to_first_token_and_speed(display, llm_service):
    ui = UiHarness(llm_service.data_dir, display)
    try:
        window = ui.app.open("settings")
        ui.pump(lambda: window.loaded, timeout=15, message="settings loaded")
        window.notebook.select(window.tabs["AI / LLaMA"])
        window.test_model()
        ui.pump(lambda: window.test_result.cget("text") != "Asking the model…", timeout=120,
                message="the model test")
        text = window.test_result.cget("text")
        assert "first token after" in text and "tokens/s" in text, text

        listing = llm_service.get("/api/ai/models").json()
        assert any(m["current"] for m in listing["items"]), listing  # the bundled model, loaded
        window.load_models()
        ui.pump(lambda: set(window.model_tree.get_children()) == {m["file"] for m in listing["items"]},
                timeout=60, message="the models list")
        for model in listing["items"]:
            values = [str(v) for v in window.model_tree.item(model["file"], "values")]
            assert values == [model["file"], f"{model['size_bytes'] / 1e6:,.1f} MB", str(model["quantization"] or "?"),
                              "yes" if model["chat_template"] else "no", "✓" if model["current"] else ""]
        assert window.models_advice.cget("text") == listing["advice"]
        ui.screenshot(window.top, "settings-model-test-llm")
    finally:
        ui.close()


# -- the pieces ----------------------------------------------------------------------------------------


def test_rows_bodies_and_summaries():
    en = Translator("en")
    assert entry_row(en, {"id": 3, **FRETE, "updated_at": None}) == ("3", ("Frete para BH", "/frete", "pt",
                                                                     "frete, entrega", "—"))
    assert entry_row(en, {"id": 4, **HOURS, "language": None})[1][1:3] == ("", "any")
    assert entry_body({"title": " Frete ", "content": "R$ 25\n", "language": "", "tags": "a, b, a",
                       "shortcut": " /frete "}) == {"title": "Frete", "content": "R$ 25", "language": None,
                                                    "tags": ["a", "b"], "shortcut": "frete"}
    assert entry_body({"title": "x", "content": "y", "language": "en", "tags": "", "shortcut": "/"})["shortcut"] is None
    assert import_summary(en, {"created": 12, "updated": 3, "errors": []}) == "12 created, 3 updated, no errors."
    errors = [{"line": n, "error": "title: required"} for n in (4, 9, 11, 12)]
    assert import_summary(en, {"created": 12, "updated": 3, "errors": errors[:2]}) == (
        "12 created, 3 updated, 2 rows with errors: line 4: title: required; line 9: title: required")
    assert import_summary(en, {"created": 0, "updated": 0, "errors": errors}).endswith("; and 1 more")
    assert draft_figures(en, {"ttft_ms": 412.4, "tokens_per_s": 18.46, "tokens": 52}) == (
        "first words after 412 ms · 18.5 tokens/s · 52 tokens")
    assert knowledge_title({"knowledge": {"entry_id": 3, "title": "Frete para BH"}}) == "Frete para BH"
    assert knowledge_title({"knowledge": None}) is None and knowledge_title({}) is None
