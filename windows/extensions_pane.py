"""The Security tab's browser extensions: the paired ones (name, browser, origin, paired at, last seen, state)
with a Revoke button per active one, and the pending pairings with Deny.

Rows are widgets in a grid rather than a Treeview because each active row carries its own button. The lists
reload after an action and on the events that change them (pairing.*, extension.revoked).
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import messagebox, ttk
from typing import Any

from core.i18n import SOURCE_LANGUAGE, Translator
from desktop.pairing import expiry_epoch, fmt_countdown, group_code
from windows.connect import optional_items
from windows.errors import ApiError
from windows.widgets import local_time

RELOAD_ON = ("pairing.requested", "pairing.completed", "pairing.ended", "extension.revoked", "events.lost")
BROWSERS = {"chromium": "Chromium", "firefox": "Firefox"}
Confirm = Callable[[str, str], bool]


def ask_yes_no(parent: tk.Misc) -> Confirm:
    return lambda title, text: bool(messagebox.askyesno(title, text, parent=parent, icon="warning"))


class ExtensionsPane(ttk.Frame):
    """`load()` fetches both lists off the Tk thread; `extensions`/`pending` hold what is shown."""

    def __init__(self, parent: tk.Misc, link: Any, *, clock: Callable[[], float], confirm: Confirm,
                 open_connect: Callable[[], Any], tr: Translator | None = None) -> None:
        super().__init__(parent)
        self.tr = tr = tr or Translator(SOURCE_LANGUAGE)  # optional: English for a caller without one
        self.link = link
        self.clock = clock
        self.confirm = confirm
        self.extensions: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.loaded = False
        self.unavailable = False  # the service has no pairing API (an older version)
        self.revoke_buttons: dict[str, ttk.Button] = {}
        self.deny_buttons: dict[str, ttk.Button] = {}
        head = ttk.Frame(self)
        head.pack(fill="x")
        ttk.Label(head, text=tr._("Browser extensions"), style="Section.TLabel").pack(side="left")
        ttk.Button(head, text=tr._("Connect WhatsApp Web…"), command=open_connect).pack(side="right")
        self.table = ttk.Frame(self, style="Card.TFrame", padding=(8, 6))
        self.table.pack(fill="x", pady=(4, 0))
        ttk.Label(self, text=tr._("Pending pairings"), style="Section.TLabel").pack(anchor="w", pady=(8, 0))
        self.pending_table = ttk.Frame(self, style="Card.TFrame", padding=(8, 6))
        self.pending_table.pack(fill="x", pady=(4, 0))
        self.message = ttk.Label(self, text="", style="Muted.TLabel")
        self.message.pack(anchor="w", pady=(2, 0))
        self._show_rows()

    # -- loading ----------------------------------------------------------------------------------------

    def load(self) -> None:
        def work() -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
            return optional_items(self.link, "/api/extensions"), optional_items(self.link, "/api/pairing/pending")

        self.link.run(work, self._loaded, lambda exc: self.say(
            self.tr._("Cannot list the extensions: {problem}").format(problem=error_text(exc))))

    def _loaded(self, result: tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]) -> None:
        if not self.winfo_exists():
            return
        extensions, pending = result
        self.loaded = True
        self.unavailable = extensions is None
        self.extensions = extensions or []
        self.pending = pending or []
        self._show_rows()

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") in RELOAD_ON:
            self.load()

    def say(self, text: str) -> None:
        if self.winfo_exists():
            self.message.configure(text=text)

    # -- drawing ----------------------------------------------------------------------------------------

    def _show_rows(self) -> None:
        for table in (self.table, self.pending_table):
            for child in table.winfo_children():
                child.destroy()
        self.revoke_buttons.clear()
        self.deny_buttons.clear()
        self._show_extensions()
        self._show_pending()

    def _show_extensions(self) -> None:
        tr = self.tr
        table = self.table
        headings = (tr._("Extension"), tr._("Browser"), tr._("Paired"), tr._("Last seen"), tr._("State"), "")
        for column, heading in enumerate(headings):
            ttk.Label(table, text=heading, style="CardHeading.TLabel").grid(row=0, column=column, sticky="w",
                                                                             padx=(0, 14), pady=(0, 4))
        table.columnconfigure(0, weight=1)
        if not self.extensions:
            text = (tr._("Loading…") if not self.loaded else
                    tr._("This version of the agent cannot pair browsers yet.") if self.unavailable
                    else tr._("No browser paired yet: use Connect WhatsApp Web."))
            ttk.Label(table, text=text, style="CardMuted.TLabel").grid(row=1, column=0, columnspan=6, sticky="w")
            return
        for index, ext in enumerate(self.extensions):
            row = 1 + index * 2
            active = ext.get("state") == "active"
            style = "CardText.TLabel" if active else "CardMuted.TLabel"
            ttk.Label(table, text=str(ext.get("name") or "—"), style=style).grid(row=row, column=0, sticky="w")
            ttk.Label(table, text=str(ext.get("origin") or ""), style="CardMuted.TLabel").grid(
                row=row + 1, column=0, columnspan=5, sticky="w", pady=(0, 6))
            values = (BROWSERS.get(str(ext.get("browser")), str(ext.get("browser") or "—")),
                      local_time(tr, ext.get("paired_at")),
                      local_time(tr, ext.get("last_seen_at")) if ext.get("last_seen_at") else tr._("never"),
                      extension_state(tr, ext))
            for column, value in enumerate(values, start=1):
                ttk.Label(table, text=value, style=style).grid(row=row, column=column, sticky="w", padx=(0, 14))
            if active:
                button = ttk.Button(table, text=tr._("Revoke"), command=lambda e=ext: self.revoke(e))
                button.grid(row=row, column=5, rowspan=2, sticky="e")
                self.revoke_buttons[str(ext["id"])] = button

    def _show_pending(self) -> None:
        tr = self.tr
        table = self.pending_table
        table.columnconfigure(0, weight=1)
        if not self.pending:
            ttk.Label(table, text=tr._("None. A browser asking to pair shows here with its code."),
                      style="CardMuted.TLabel").grid(row=0, column=0, sticky="w")
            return
        for row, pairing in enumerate(self.pending):
            expires = expiry_epoch(pairing.get("expires_at"))
            left = tr._("expires in {time}").format(time=fmt_countdown(expires - self.clock())) if expires else ""
            name = pairing.get("name") or tr._("A browser")
            who = f"{name}  ·  {pairing.get('origin') or ''}"
            ttk.Label(table, text=who, style="CardText.TLabel").grid(row=row, column=0, sticky="w")
            ttk.Label(table, text=tr._("code {code}").format(code=group_code(str(pairing.get("code") or ""))),
                      style="CardHeading.TLabel").grid(row=row, column=1, sticky="w", padx=(0, 14))
            ttk.Label(table, text=left, style="CardMuted.TLabel").grid(row=row, column=2, sticky="w", padx=(0, 14))
            button = ttk.Button(table, text=tr._("Deny"), command=lambda p=pairing: self.deny(p))
            button.grid(row=row, column=3, sticky="e", pady=1)
            self.deny_buttons[str(pairing.get("pairing_id"))] = button

    # -- actions ----------------------------------------------------------------------------------------

    def revoke(self, extension: dict[str, Any]) -> None:
        tr = self.tr
        name = str(extension.get("name") or tr._("this browser"))
        if not self.confirm(tr._("Revoke {name}?").format(name=name), tr._(
                "{name} ({origin}) stops capturing at once and cannot reach the agent until it is paired again."
        ).format(name=name, origin=extension.get("origin") or "")):
            return
        self.revoke_buttons[str(extension["id"])].state(["disabled"])

        def done(_body: Any) -> None:
            self.say(tr._("{name} is revoked.").format(name=name))
            self.load()

        self.link.call("DELETE", f"/api/extensions/{extension['id']}", on_done=done,
                       on_error=lambda exc: self._failed(tr._("Could not revoke {name}: {problem}").replace(
                           "{name}", name), exc))

    def deny(self, pairing: dict[str, Any]) -> None:
        def done(_body: Any) -> None:
            self.say(self.tr._("Denied {name}.").format(name=pairing.get("name") or self.tr._("the request")))
            self.load()

        self.link.call("DELETE", f"/api/pairing/{pairing['pairing_id']}", on_done=done,
                       on_error=lambda exc: self._failed(self.tr._("Could not deny: {problem}"), exc))

    def _failed(self, sentence: str, exc: Exception) -> None:
        """sentence: translated, with {problem} where the reason goes (replaced: a name may hold braces)."""
        self.say(sentence.replace("{problem}", error_text(exc)))
        self.load()


def extension_state(tr: Translator, extension: dict[str, Any]) -> str:
    """"active", "stalled" when its capture reports so, or "revoked <when>" (in the user's language)."""
    if extension.get("state") == "revoked":
        if extension.get("revoked_at"):
            return tr._("revoked {when}").format(when=local_time(tr, extension.get("revoked_at")))
        return tr._("revoked")
    report = extension.get("report") if isinstance(extension.get("report"), dict) else {}
    if report.get("state") == "stalled":
        return tr._("stalled")
    state = str(extension.get("state") or "—")
    return tr._("active") if state == "active" else state


def error_text(exc: Exception) -> str:
    return exc.message if isinstance(exc, ApiError) else str(exc)
