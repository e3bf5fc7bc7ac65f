"""The Customers tab: search (one page of GET /api/customers at a time), the selected customer's profile, and
editing name, email, status, tags and custom fields, saved with PATCH /api/customers/{phone}."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Any
from urllib.parse import quote

from core.i18n import Translator
from windows.base import BaseWindow
from windows.errors import describe_error, error_field
from windows.labels import INTENT_LABELS, STATUS_LABELS, label_for, labels_for, value_of
from windows.widgets import (
    PagedList,
    SearchBox,
    fmt_count,
    local_time,
    query_string,
    short,
    time_column_width,
    wrap_to_width,
)

PAGE_SIZE = 50
STATUSES = ("lead", "prospect", "active", "customer", "inactive", "churned", "blocked")


def parse_tags(text: str) -> list[str]:
    """"vip, late payer ,vip" → ["vip", "late payer"] (order kept, duplicates and blanks dropped)."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def field_value(text: str, original: Any) -> Any:
    """A custom field typed as text keeps the type it had when its text is unchanged (a number stays a
    number); new or edited values are saved as text."""
    if original is not None and field_text(original) == text:
        return original
    return text


def field_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class CustomFieldsEditor(ttk.Frame):
    """Rows of (name, value) entries with a remove button each, and "Add field"."""

    def __init__(self, parent: tk.Misc, tr: Translator) -> None:
        super().__init__(parent)
        self.tr = tr
        self.rows: list[tuple[ttk.Frame, tk.StringVar, tk.StringVar]] = []
        self.original: dict[str, Any] = {}
        self.list = ttk.Frame(self)
        self.list.pack(fill="x")
        self.add_button = ttk.Button(self, text=tr._("Add field"), command=lambda: self.add_row("", "", focus=True))
        self.add_button.pack(anchor="w", pady=(2, 0))

    def load(self, fields: dict[str, Any]) -> None:
        for frame, _k, _v in self.rows:
            frame.destroy()
        self.rows = []
        self.original = dict(fields)
        for key, value in fields.items():
            self.add_row(key, field_text(value))

    def add_row(self, key: str, value: str, *, focus: bool = False) -> None:
        frame = ttk.Frame(self.list)
        frame.pack(fill="x", pady=1)
        key_var, value_var = tk.StringVar(value=key), tk.StringVar(value=value)
        key_entry = ttk.Entry(frame, textvariable=key_var, width=14)
        key_entry.pack(side="left")
        ttk.Entry(frame, textvariable=value_var).pack(side="left", fill="x", expand=True, padx=(4, 0))
        row = (frame, key_var, value_var)
        ttk.Button(frame, text="✕", width=3, command=lambda: self.remove_row(row)).pack(side="left", padx=(4, 0))
        self.rows.append(row)
        if focus:
            key_entry.focus_set()

    def remove_row(self, row: tuple[ttk.Frame, tk.StringVar, tk.StringVar]) -> None:
        row[0].destroy()
        self.rows.remove(row)

    def value(self) -> dict[str, Any]:
        """The fields as the API wants them; ValueError for a value without a name or a repeated name."""
        fields: dict[str, Any] = {}
        for _frame, key_var, value_var in self.rows:
            key, text = key_var.get().strip(), value_var.get()
            if not key:
                if text.strip():
                    raise ValueError(self.tr._("custom fields: a value needs a field name"))
                continue
            if key in fields:
                raise ValueError(self.tr._("custom fields: “{name}” appears twice").format(name=key))
            fields[key] = field_value(text, self.original.get(key))
        return fields


class CustomersPane(ttk.Frame):
    def __init__(self, parent: tk.Misc, window: BaseWindow) -> None:
        super().__init__(parent, padding=(0, 6, 0, 0))
        self.window = window
        self.tr = tr = window.tr
        self.link = window.link
        self._profile_seq = 0
        self.profile: dict[str, Any] | None = None
        self.saving = False
        bar = ttk.Frame(self)
        bar.pack(fill="x")
        self.search = SearchBox(bar, lambda _text: self.reload(), label=tr._("Search name, phone or email"), width=30)
        self.search.pack(side="left")
        panes = ttk.PanedWindow(self, orient="horizontal")
        panes.pack(fill="both", expand=True, pady=(6, 0))
        panes.add(self._build_list(panes), weight=3)
        panes.add(self._build_profile(panes), weight=2)
        self._show_profile(None)

    # -- layout -------------------------------------------------------------------------------------

    def _build_list(self, parent: tk.Misc) -> ttk.Frame:
        tr = self.tr
        self.paged = PagedList(parent, [("name", tr._("Name"), 110, True), ("phone", tr._("Phone"), 140, False),
                                        ("status", tr._("Status"), 70, False), ("tags", tr._("Tags"), 70, False),
                                        ("messages", tr._("Msgs"), 45, False),
                                        ("last", tr._("Last contact"), time_column_width(tr, 100), False)],
                               page_size=PAGE_SIZE, on_page=self.reload,
                               row=lambda c: (c["phone"], customer_row(tr, c)),
                               failure=tr._("Could not load the customers: {problem}"),
                               empty_text=tr._("No customers yet"), describe=lambda exc: describe_error(exc, tr),
                               on_error=self.window.on_error, tr=tr)
        self.list, self.pager = self.paged.list, self.paged.pager
        self.paged.on_select(self._selected)
        return self.paged

    def _build_profile(self, parent: tk.Misc) -> ttk.Frame:
        tr = self.tr
        frame = ttk.Frame(parent, padding=(8, 0, 0, 0))
        self.profile_title = ttk.Label(frame, text="", style="Section.TLabel", justify="left",
                                       wraplength=int(330 * self.window.app.dpi))
        self.profile_title.pack(anchor="w")
        wrap = int(330 * self.window.app.dpi)  # the profile pane's width at 1024x768: long lines wrap, never clip
        self.profile_meta = ttk.Label(frame, text="", style="Muted.TLabel", justify="left", wraplength=wrap)
        self.profile_meta.pack(anchor="w", pady=(0, 6))
        self.form = ttk.Frame(frame)
        self.form.pack(fill="x")
        self.form.columnconfigure(1, weight=1)
        self.name_var, self.email_var, self.tags_var = tk.StringVar(), tk.StringVar(), tk.StringVar()
        self.entries: dict[str, tk.Widget] = {}
        self.field_errors: dict[str, ttk.Label] = {}
        for row, (key, label, var) in enumerate((("name", tr._("Name"), self.name_var),
                                                  ("email", tr._("Email"), self.email_var),
                                                  ("tags", tr._("Tags (a, b)"), self.tags_var))):
            self._form_row(row, key, label, ttk.Entry(self.form, textvariable=var))
        # Shows the statuses in the user's language; changes() sends the API's value.
        self.status = ttk.Combobox(self.form, values=labels_for(tr, STATUS_LABELS, STATUSES), state="readonly",
                                   width=12)
        self._form_row(3, "status", tr._("Status"), self.status, sticky="w")
        ttk.Label(frame, text=tr._("Custom fields"), style="Section.TLabel").pack(anchor="w", pady=(8, 2))
        self.custom_fields = CustomFieldsEditor(frame, tr)
        self.custom_fields.pack(fill="x")
        self.field_errors["custom_fields"] = ttk.Label(frame, text="", style="FieldError.TLabel")
        self.field_errors["custom_fields"].pack(anchor="w")
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(8, 0))
        self.save_button = ttk.Button(buttons, text=tr._("Save  (Ctrl+S)"), style="Accent.TButton", command=self.save)
        self.save_button.pack(side="left")
        self.revert_button = ttk.Button(buttons, text=tr._("Revert"), command=lambda: self._show_profile(self.profile))
        self.revert_button.pack(side="left", padx=(6, 0))
        self.save_status = ttk.Label(frame, text="", style="Muted.TLabel", justify="left", wraplength=wrap)
        self.save_status.pack(anchor="w", pady=(4, 0))
        self.intents_label = ttk.Label(frame, text="", style="Muted.TLabel", justify="left", wraplength=wrap)
        wrap_to_width(frame, self.profile_title, self.profile_meta, self.save_status, self.intents_label)
        self.intents_label.pack(anchor="w", pady=(6, 0))
        return frame

    def _form_row(self, row: int, key: str, label: str, widget: tk.Widget, sticky: str = "ew") -> None:
        # Each field's error line sits under it, taking no room until there is an error to show.
        ttk.Label(self.form, text=label).grid(row=row * 2, column=0, sticky="w", padx=(0, 6), pady=1)
        widget.grid(row=row * 2, column=1, sticky=sticky, pady=1)
        error = ttk.Label(self.form, text="", style="FieldError.TLabel")
        error.grid(row=row * 2 + 1, column=1, sticky="w")
        error.grid_remove()
        self.entries[key] = widget
        self.field_errors[key] = error

    # -- list ---------------------------------------------------------------------------------------

    def reload(self, offset: int = 0) -> None:
        path = "/api/customers" + query_string({"q": self.search.text, "limit": PAGE_SIZE, "offset": offset})
        self.paged.load(self.link.get, path, on_page=self._page_loaded, empty_text=lambda: (
            self.tr._("No customers match this search") if self.search.text else self.tr._("No customers yet")))

    def _page_loaded(self, page: dict[str, Any]) -> None:
        # A search by name comes newest customers first, not by relevance or last contact: the pager says so.
        self.pager.note = self.tr._("newest customers first") if page.get("order") == "newest" else ""

    # -- profile ------------------------------------------------------------------------------------

    def _selected(self, phone: str) -> None:
        if self.profile is None or self.profile.get("phone") != phone:
            self.open_profile(phone)

    def open_profile(self, phone: str) -> None:
        self._profile_seq += 1
        seq = self._profile_seq
        self.link.get(f"/api/customers/{quote(phone)}", lambda c: self._profile_loaded(seq, c),
                      lambda exc: self._profile_failed(seq, exc))

    def _profile_loaded(self, seq: int, customer: dict[str, Any]) -> None:
        if seq == self._profile_seq:
            self._show_profile(customer)
            self.save_status.configure(text="")

    def _profile_failed(self, seq: int, exc: Exception) -> None:
        if seq == self._profile_seq:
            self.save_status.configure(text=self.tr._("Could not load the profile: {problem}").format(
                problem=describe_error(exc, self.tr)), style="FieldError.TLabel")
            self.window.on_error(exc)

    def _show_profile(self, customer: dict[str, Any] | None) -> None:
        self.profile = customer
        self._clear_errors()
        state = ["!disabled"] if customer else ["disabled"]
        for widget in (*self.entries.values(), self.save_button, self.revert_button, self.custom_fields.add_button):
            widget.state(state)
        if customer is None:
            self.profile_title.configure(text=self.tr._("Select a customer to see the profile"))
            self.profile_meta.configure(text="")
            for var in (self.name_var, self.email_var, self.tags_var):
                var.set("")
            self.status.set("")
            self.custom_fields.load({})
            self.intents_label.configure(text="")
            return
        tr = self.tr
        self.status.state(["readonly"])
        self.profile_title.configure(text=customer.get("name") or customer.get("phone", ""))
        counts = customer.get("message_counts") or {}
        total = int(counts.get("total") or 0)
        self.profile_meta.configure(text="\n".join((
            f"{customer.get('phone', '')} · " + tr._("language {code}").format(code=customer.get("language") or "?"),
            tr.n_("{n} message", "{n} messages", total) + " " + tr._("({inbound} in, {outbound} out)").format(
                inbound=fmt_count(tr, counts.get("inbound")), outbound=fmt_count(tr, counts.get("outbound"))),
            tr._("first contact {first} · last {last}").format(
                first=local_time(tr, customer.get("first_contact_at")),
                last=local_time(tr, customer.get("last_contact_at"))))))
        self.name_var.set(customer.get("name") or "")
        self.email_var.set(customer.get("email") or "")
        self.tags_var.set(", ".join(customer.get("tags") or []))
        self.status.set(label_for(tr, STATUS_LABELS, customer.get("status")))
        self.custom_fields.load(customer.get("custom_fields") or {})
        intents = customer.get("top_intents") or []
        self.intents_label.configure(text=tr._("Top intents: {intents}").format(intents=", ".join(
            f"{label_for(tr, INTENT_LABELS, i.get('intent') or i.get('label'))} "
            f"({i.get('count', i.get('messages', '?'))})" for i in intents)) if intents else "")

    def changes(self) -> dict[str, Any]:
        """The PATCH body from the form; ValueError for what the form itself can tell is wrong."""
        body: dict[str, Any] = {"name": self.name_var.get().strip() or None,
                                "email": self.email_var.get().strip() or None,
                                "tags": parse_tags(self.tags_var.get()),
                                "custom_fields": self.custom_fields.value()}
        if self.status.get():
            body["status"] = value_of(self.tr, STATUS_LABELS, self.status.get(), STATUSES)
        return body

    def save(self) -> None:
        if self.profile is None or self.saving:
            return
        self._clear_errors()
        try:
            body = self.changes()
        except ValueError as exc:
            self._field_error(self.field_errors["custom_fields"], str(exc))
            return
        phone = self.profile["phone"]
        self.saving = True
        self.save_status.configure(text=self.tr._("Saving…"), style="Muted.TLabel")
        self.link.call("PATCH", f"/api/customers/{quote(phone)}", body, on_done=self._saved,
                       on_error=self._save_failed)

    def _saved(self, customer: dict[str, Any]) -> None:
        self.saving = False
        self._show_profile(customer)
        self.save_status.configure(text=self.tr._("Saved"), style="Muted.TLabel")
        if self.list.tree.exists(customer["phone"]):
            self.list.tree.item(customer["phone"], values=list(customer_row(self.tr, customer)))

    def _save_failed(self, exc: Exception) -> None:
        self.saving = False
        field = error_field(exc)
        target = self.field_errors.get(field) if field else None
        if target is not None:
            self._field_error(target, describe_error(exc, self.tr))
        self.save_status.configure(text=self.tr._("Not saved: {problem}").format(problem=describe_error(exc, self.tr)),
                                   style="FieldError.TLabel")
        self.window.on_error(exc)

    @staticmethod
    def _field_error(label: ttk.Label, text: str) -> None:
        label.configure(text=text)
        if label.winfo_manager() == "grid" or not label.winfo_manager():
            label.grid()

    def _clear_errors(self) -> None:
        for label in self.field_errors.values():
            label.configure(text="")
            if label.winfo_manager() == "grid":
                label.grid_remove()


def customer_row(tr: Translator, c: dict[str, Any]) -> tuple[str, ...]:
    total = int(c.get("messages_in") or 0) + int(c.get("messages_out") or 0)
    return (c.get("name") or "—", c.get("phone", ""), label_for(tr, STATUS_LABELS, c.get("status")),
            short(", ".join(c.get("tags") or []), 30), fmt_count(tr, total),
            local_time(tr, c.get("last_contact_at"), compact=True))
