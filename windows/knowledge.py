"""The Knowledge tab: the seller's own facts (delivery fees, payment methods, opening hours, policies…) that
ground the suggested replies and the AI drafts, and the /shortcuts the extension inserts in WhatsApp.

One page of GET /api/knowledge at a time (searchable), Add / Edit (double-click) / Delete (confirmed) through
a FormDialog whose field errors come from the service's validation errors, Import / Export CSV (the service
parses and writes the CSV: one format, one set of rules), and a reload on the "knowledge.changed" event, so
an edit made from another window, the API or a team hub pull shows here.
"""

from __future__ import annotations

import csv
import io
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from core.i18n import N_, Translator
from windows.base import BaseWindow
from windows.calls import Debouncer
from windows.customers import parse_tags
from windows.errors import describe_error
from windows.extensions_pane import ask_yes_no
from windows.forms import FormDialog
from windows.widgets import (
    PagedList,
    SearchBox,
    local_time,
    query_string,
    readonly_text,
    set_text,
    short,
    time_column_width,
    wrap_to_width,
)

PAGE_SIZE = 50
LANGUAGES = ("", "pt", "en", "es")
EMPTY_INVITATION = N_("Add the answers you give every day: delivery fees and times, payment methods, opening hours, "
                      "exchange and refund policy, prices of your best sellers… The suggested replies and the AI "
                      "drafts use them to answer with your facts. Give one a /shortcut to insert it from WhatsApp.")
# {name}, {first_name} and {order} are the shortcut's own placeholders: shown as they are, never formatted.
SHORTCUT_HINT = N_("Type /shortcut in WhatsApp's message box to insert this text. {name}, {first_name} and {order} "
                   "are filled in from the customer.")
MAX_ERRORS_SHOWN = 3


def csv_types(tr: Translator) -> list[tuple[str, str]]:
    return [(tr._("CSV files"), "*.csv"), (tr._("All files"), "*")]


def entry_row(tr: Translator, entry: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A list row: (iid, (title, "/shortcut", language, tags, updated))."""
    shortcut = entry.get("shortcut")
    return str(entry["id"]), (short(entry.get("title"), 60), f"/{shortcut}" if shortcut else "",
                              entry.get("language") or tr._("any"), short(", ".join(entry.get("tags") or []), 40),
                              local_time(tr, entry.get("updated_at"), compact=True))


def entry_body(values: dict[str, str]) -> dict[str, Any]:
    """The dialog's text as the API's JSON: no language / no shortcut as null, the shortcut without its "/"."""
    shortcut = values.get("shortcut", "").strip().removeprefix("/").strip()
    return {"title": values.get("title", "").strip(), "content": values.get("content", "").strip(),
            "language": values.get("language") or None, "tags": parse_tags(values.get("tags", "")),
            "shortcut": shortcut or None}


def import_summary(tr: Translator, result: dict[str, Any]) -> str:
    """ "12 created, 3 updated, 2 rows with errors: line 4: …; line 9: …" (the service's reasons stay English)."""
    created, updated = int(result.get("created") or 0), int(result.get("updated") or 0)
    errors = [e for e in result.get("errors") or [] if isinstance(e, dict)]
    text = tr.n_("{n} created", "{n} created", created) + ", " + tr.n_("{n} updated", "{n} updated", updated)
    if not errors:
        return text + ", " + tr._("no errors.")
    shown = "; ".join(tr._("line {line}: {error}").format(line=e.get("line"), error=e.get("error"))
                      for e in errors[:MAX_ERRORS_SHOWN])
    more = len(errors) - MAX_ERRORS_SHOWN
    more_text = "; " + tr.n_("and {n} more", "and {n} more", more) if more > 0 else ""
    bad_rows = tr.n_("{n} row with errors", "{n} rows with errors", len(errors))
    return f"{text}, {bad_rows}: {shown}{more_text}"


class KnowledgePane(ttk.Frame):
    def __init__(self, parent: tk.Misc, window: BaseWindow) -> None:
        super().__init__(parent, padding=(0, 6, 0, 0))
        self.window = window
        self.tr = tr = window.tr
        self.link = window.link
        self.items: dict[str, dict[str, Any]] = {}
        self.total: int | None = None
        self.dialog: FormDialog | None = None
        # Injected so tests can answer them without a modal dialog: (title, text) -> bool and () -> path | "".
        self.confirm: Callable[[str, str], bool] = ask_yes_no(window.top)
        self.ask_open_path: Callable[[], str] = lambda: filedialog.askopenfilename(
            parent=window.top, title=tr._("Import knowledge from CSV"), filetypes=csv_types(tr))
        self.ask_save_path: Callable[[], str] = lambda: filedialog.asksaveasfilename(
            parent=window.top, title=tr._("Export knowledge to CSV"), filetypes=csv_types(tr), defaultextension=".csv",
            initialfile="knowledge.csv")
        self._build_bar()
        self._build_invitation()
        panes = ttk.PanedWindow(self, orient="horizontal")
        panes.pack(fill="both", expand=True, pady=(6, 0))
        panes.add(self._build_list(panes), weight=3)
        panes.add(self._build_preview(panes), weight=2)
        self.changed = Debouncer(self, lambda: self.reload(self.pager.offset), min_interval_ms=500)

    # -- layout -------------------------------------------------------------------------------------

    def _build_bar(self) -> None:
        tr = self.tr
        bar = ttk.Frame(self)
        bar.pack(fill="x")
        self.search = SearchBox(bar, lambda _text: self.reload(), label=tr._("Search title, text or tag"), width=20)
        self.search.pack(side="left")
        # width=-6: sized to the label (at least 6 characters), so the bar fits a 1024-pixel screen.
        self.add_button = ttk.Button(bar, text=tr._("Add…"), style="Accent.TButton", command=self.add_dialog, width=-6)
        self.add_button.pack(side="left", padx=(10, 0))
        self.edit_button = ttk.Button(bar, text=tr._("Edit…"), command=self.edit_selected, width=-6)
        self.edit_button.pack(side="left", padx=(4, 0))
        self.delete_button = ttk.Button(bar, text=tr._("Delete"), command=self.delete_selected, width=-6)
        self.delete_button.pack(side="left", padx=(4, 0))
        ttk.Button(bar, text=tr._("Export CSV…"), command=self.export_csv, width=-6).pack(side="right")
        ttk.Button(bar, text=tr._("Import CSV…"), command=self.import_csv, width=-6).pack(side="right", padx=(0, 4))
        self.bar = bar
        # The outcome of the last action; packed only while it has something to say.
        self.result = ttk.Label(self, text="", style="Muted.TLabel", wraplength=self.window.scaled((900, 0))[0],
                                justify="left")

    def _build_invitation(self) -> None:
        """Shown while the knowledge base is empty: what to put there, and why."""
        self.invitation = ttk.Frame(self, style="Callout.TFrame", padding=(12, 8))
        ttk.Label(self.invitation, text=self.tr._(EMPTY_INVITATION), style="Callout.TLabel", justify="left",
                  wraplength=self.window.scaled((700, 0))[0]).pack(side="left", fill="x", expand=True)
        ttk.Button(self.invitation, text=self.tr._("Add the first answer"), style="Accent.TButton",
                   command=self.add_dialog).pack(side="right", padx=(8, 0))

    def _build_list(self, parent: tk.Misc) -> ttk.Frame:
        tr = self.tr
        self.paged = PagedList(parent, [("title", tr._("Title"), 200, True), ("shortcut", tr._("Shortcut"), 90, False),
                                        ("language", tr._("Language"), 84, False), ("tags", tr._("Tags"), 110, False),
                                        ("updated", tr._("Updated"), time_column_width(tr, 100), False)],
                               page_size=PAGE_SIZE, on_page=self.reload, row=lambda e: entry_row(tr, e),
                               failure=tr._("Could not load the knowledge: {problem}"),
                               empty_text=tr._("No entries yet"), describe=lambda exc: describe_error(exc, tr),
                               on_error=self.window.on_error, tr=tr)
        self.list, self.pager = self.paged.list, self.paged.pager
        # Every selection event, not PagedList.on_select: the preview reads the page's own rows (no request that
        # could answer late), so a reload must refresh it with the edited entry and an emptied selection clears it.
        self.list.tree.bind("<<TreeviewSelect>>", lambda _e: self._selected())
        self.list.tree.bind("<Double-1>", lambda _e: self.edit_selected())
        self.list.tree.bind("<Return>", lambda _e: self.edit_selected())
        self.list.tree.bind("<Delete>", lambda _e: self.delete_selected())
        return self.paged

    def _build_preview(self, parent: tk.Misc) -> ttk.Frame:
        frame = ttk.Frame(parent, padding=(8, 0, 0, 0))
        wrap = self.window.scaled((330, 0))[0]
        self.preview_title = ttk.Label(frame, text=self.tr._("Select an entry to read it"), style="Section.TLabel",
                                       wraplength=wrap, justify="left")
        self.preview_title.pack(anchor="w")
        self.preview_meta = ttk.Label(frame, text="", style="Muted.TLabel", wraplength=wrap, justify="left")
        wrap_to_width(frame, self.preview_title, self.preview_meta)
        self.preview_meta.pack(anchor="w")
        self.preview = readonly_text(frame, height=12, width=30)
        self.preview.pack(fill="both", expand=True, pady=(4, 0))
        return frame

    # -- loading ------------------------------------------------------------------------------------

    def reload(self, offset: int = 0) -> None:
        path = "/api/knowledge" + query_string({"q": self.search.text, "limit": PAGE_SIZE, "offset": offset})
        self.paged.load(self.link.get, path, on_page=self._page_loaded, empty_text=lambda: (
            self.tr._("No entries match this search") if self.search.text else self.tr._("No entries yet")))

    def _page_loaded(self, page: dict[str, Any]) -> None:
        self.items = {str(e["id"]): e for e in page.get("items", []) if isinstance(e, dict) and "id" in e}
        if not self.search.text:
            self.total = int(page.get("total") or 0)
        self._show_invitation(self.total == 0)
        self.after_idle(self._selected)

    def _show_invitation(self, shown: bool) -> None:
        if shown and not self.invitation.winfo_manager():
            self.invitation.pack(fill="x", pady=(6, 0), after=self.bar)
        elif not shown and self.invitation.winfo_manager():
            self.invitation.pack_forget()

    def on_knowledge_changed(self) -> None:
        """A "knowledge.changed" event: the page shown is fetched again (a burst of events, once)."""
        self.changed.trigger()

    def tell(self, text: str, style: str = "Muted.TLabel") -> None:
        """One line under the bar: what the last action did (saved, deleted, imported, exported, failed)."""
        self.result.configure(text=text, style=style)
        if text and not self.result.winfo_manager():
            self.result.pack(fill="x", pady=(4, 0), after=self.bar)
        elif not text and self.result.winfo_manager():
            self.result.pack_forget()

    def _selected(self) -> None:
        entry = self.selected_entry()
        for button in (self.edit_button, self.delete_button):
            button.state(["!disabled"] if entry else ["disabled"])
        tr = self.tr
        if entry is None:
            self.preview_title.configure(text=tr._("Select an entry to read it"))
            self.preview_meta.configure(text="")
            set_text(self.preview, "")
            return
        self.preview_title.configure(text=short(entry.get("title"), 60))
        meta = [f"/{entry['shortcut']}" if entry.get("shortcut") else tr._("no shortcut"),
                tr._("language {code}").format(code=entry.get("language") or tr._("any"))]
        if entry.get("tags"):
            meta.append(tr._("tags {tags}").format(tags=", ".join(entry["tags"])))
        self.preview_meta.configure(text=" · ".join(meta))
        set_text(self.preview, entry.get("content") or "")

    def selected_entry(self) -> dict[str, Any] | None:
        iid = self.list.selected()
        return self.items.get(iid) if iid else None

    # -- add, edit, delete --------------------------------------------------------------------------

    def add_dialog(self) -> FormDialog:
        return self._open_dialog(None)

    def edit_selected(self) -> FormDialog | None:
        entry = self.selected_entry()
        return self._open_dialog(entry) if entry else None

    def _open_dialog(self, entry: dict[str, Any] | None) -> FormDialog:
        if self.dialog is not None and self.dialog.top.winfo_exists():
            self.dialog.close()
        tr = self.tr
        e = entry or {}
        fields = [("title", tr._("Title"), {"value": e.get("title", ""), "width": 52}),
                  ("content", tr._("Answer"), {"value": e.get("content", ""), "lines": 8,
                                               "hint": tr._("The facts as you would write them to a customer.")}),
                  ("language", tr._("Language"), {"choices": LANGUAGES, "value": e.get("language") or "",
                                                  "hint": tr._("Empty: the entry answers in any language.")}),
                  ("tags", tr._("Tags"), {"value": ", ".join(e.get("tags") or []), "width": 52,
                                          "hint": tr._("Comma-separated, e.g. frete, entrega")}),
                  ("shortcut", tr._("Shortcut"), {"value": f"/{e['shortcut']}" if e.get("shortcut") else "",
                                                  "width": 20, "hint": tr._(SHORTCUT_HINT)})]
        title = tr._("Edit “{title}”").format(title=short(e.get("title"), 40)) if entry else \
            tr._("Add a knowledge entry")
        dialog = FormDialog(self.window.top, title, fields, lambda values: self._save(dialog, entry, values),
                            ok_text=tr._("Save") if entry else tr._("Add"), tr=tr)
        self.dialog = dialog
        return dialog

    def _save(self, dialog: FormDialog, entry: dict[str, Any] | None, values: dict[str, str]) -> None:
        body = entry_body(values)
        dialog.say(self.tr._("Saving…"))
        dialog.ok.state(["disabled"])
        method, path = ("PATCH", f"/api/knowledge/{entry['id']}") if entry else ("POST", "/api/knowledge")
        self.link.call(method, path, body, on_done=lambda saved: self._saved(dialog, saved, entry is None),
                       on_error=lambda exc: self._save_failed(dialog, exc))

    def _saved(self, dialog: FormDialog, saved: dict[str, Any], created: bool) -> None:
        if dialog.top.winfo_exists():
            dialog.close()
        done = self.tr._("“{title}” added.") if created else self.tr._("“{title}” saved.")
        self.tell(text=done.format(title=short(saved.get("title"), 60)), style="Muted.TLabel")
        self.reload(0 if created else self.pager.offset)
        if created:
            self.after(300, lambda: self._select_when_shown(str(saved.get("id"))))

    def _select_when_shown(self, iid: str) -> None:
        if self.list.tree.exists(iid):
            self.list.tree.selection_set(iid)
            self.list.tree.see(iid)

    def _save_failed(self, dialog: FormDialog, exc: Exception) -> None:
        if not dialog.top.winfo_exists():
            return
        dialog.ok.state(["!disabled"])
        dialog.show_api_error(exc)
        self.window.on_error(exc)

    def delete_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        tr = self.tr
        if not self.confirm(tr._("Delete this entry?"), tr._(
                "Delete “{title}”? Suggested replies and drafts stop using it, and its shortcut stops working."
        ).format(title=short(entry.get("title"), 60))):
            return
        self.link.call("DELETE", f"/api/knowledge/{entry['id']}", on_done=lambda _b: self._deleted(entry),
                       on_error=lambda exc: self._failed(tr._("Not deleted: {problem}"), exc))

    def _deleted(self, entry: dict[str, Any]) -> None:
        self.tell(text=self.tr._("“{title}” deleted.").format(title=short(entry.get("title"), 60)),
                  style="Muted.TLabel")
        self.reload(self.pager.offset)

    def _failed(self, sentence: str, exc: Exception) -> None:
        """sentence: translated, with {problem} where the reason goes."""
        # replace, not format: a file name in the sentence may hold braces
        self.tell(text=sentence.replace("{problem}", describe_error(exc, self.tr)), style="FieldError.TLabel")
        self.window.on_error(exc)

    # -- CSV ----------------------------------------------------------------------------------------

    def import_csv(self) -> None:
        path = self.ask_open_path()
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        """Send the file as it is: the service parses it and names the lines it refused."""
        self.tell(text=self.tr._("Importing {file}…").format(file=path.name), style="Muted.TLabel")

        def work() -> Any:
            text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of the first title
            return self.link.request_text("POST", "/api/knowledge/import", text)

        self.link.run(work, self._imported, lambda exc: self._failed(
            self.tr._("Could not import {file}: {problem}").replace("{file}", path.name), exc))

    def _imported(self, result: Any) -> None:
        summary = import_summary(self.tr, result if isinstance(result, dict) else {})
        errors = isinstance(result, dict) and bool(result.get("errors"))
        self.tell(text=self.tr._("Import: {summary}").format(summary=summary),
                  style="FieldError.TLabel" if errors else "Muted.TLabel")
        self.reload(0)

    def export_csv(self) -> None:
        path = self.ask_save_path()
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        def work() -> int:
            text = self.link.request_text("GET", "/api/knowledge/export")
            text = text if isinstance(text, str) else ""
            # newline="": the CSV's own line ends (\r\n) are written as they came.
            with open(path, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            return max(0, len(list(csv.reader(io.StringIO(text)))) - 1)  # rows, not lines: answers span lines

        self.link.run(work, lambda rows: self.tell(
            text=self.tr.n_("Exported {n} entry to {path}.", "Exported {n} entries to {path}.", rows).replace(
                "{path}", str(path)), style="Muted.TLabel"),
            lambda exc: self._failed(self.tr._("Could not export to {file}: {problem}").replace("{file}", path.name),
                                     exc))
