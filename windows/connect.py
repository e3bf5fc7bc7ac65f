"""The Connect window (`agent.py ui connect`): how to install the browser extension, and the pairing code.

Step 1 tells where the extension's files are (desktop.extension_files: the source tree, or the bundle's copy in
the data directory) with the browsers' steps. Step 2 waits for a `pairing.requested` event (or finds a
pending pairing through GET /api/pairing/pending when the window opens late) and shows the code large, who
asks, a countdown to its expiry and a Deny button; `pairing.completed` turns it into "Connected ✓".
The code is only ever shown on this desktop: the extension never receives it (docs/extension-protocol.md).
"""

from __future__ import annotations

import logging
import time
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from core.i18n import N_, Translator
from desktop.extension_files import ExtensionFiles, locate_extension
from desktop.pairing import expiry_epoch, fmt_countdown, group_code
from windows.base import BaseWindow
from windows.errors import ApiError
from windows.host import WindowHost
from windows.widgets import copy_to_clipboard, open_path

log = logging.getLogger(__name__)

PAIRING_EVENTS = ("pairing.requested", "pairing.completed", "pairing.ended", "extension.revoked")
BROWSER_NAMES = {"chromium": N_("Chrome, Edge or Brave"), "firefox": "Firefox"}
# The browsers' own menu names (“Developer mode”, “Load unpacked”) are said as the browser shows them in the
# user's language; a translator keeps them matching the browser's translation.
CHROMIUM_STEPS = (
    N_("Open chrome://extensions (or edge://…, brave://…)."),
    N_("Turn on “Developer mode”."),
    N_("Click “Load unpacked” and pick the extension folder."),
    N_("Pin the CRM Agent icon and open its Options."),
)
FIREFOX_STEPS = (
    N_("Open about:debugging and click “This Firefox”."),
    N_("Click “Load Temporary Add-on…”."),
    N_("Pick manifest.json in the folder (or the firefox zip)."),
    N_("Open its Options (it stays until Firefox restarts)."),
)
# Why a pairing request ended (pairing.ended's reason) -> the sentence shown.
END_REASONS = {"denied": N_("The last request was denied."), "expired": N_("The last request expired."),
               "wrong_code": N_("The last request ended after 5 wrong codes."),
               "replaced": N_("The last request was replaced by a new request.")}
ENDED = N_("The last request ended.")  # any other reason


# -- formatting ---------------------------------------------------------------------------------------


def browser_label(pairing: dict[str, Any], tr: Translator | None = None) -> str:
    """The name the extension gave ("Chromium on Linux"), with its kind when the name does not say it."""
    _ = tr._ if tr is not None else str
    name = str(pairing.get("name") or _("A browser"))
    browser = str(pairing.get("browser") or "")
    kind = _(BROWSER_NAMES[browser]) if browser in BROWSER_NAMES else ""
    return f"{name} ({kind})" if kind and browser not in name.lower() else name


def newest_pending(pending: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The pairing to show: the one that expires last (the latest request)."""
    if not pending:
        return None
    return max(pending.values(), key=lambda p: expiry_epoch(p.get("expires_at")) or 0.0)


# -- the window -------------------------------------------------------------------------------------------


class ConnectWindow(BaseWindow):
    name = "connect"
    title = N_("Connect WhatsApp Web")
    default_size = (860, 640)

    def __init__(self, app: WindowHost, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.files: ExtensionFiles | None = None
        self.pending: dict[str, dict[str, Any]] = {}
        self.shown: dict[str, Any] | None = None  # the pairing whose code is on screen
        self.paired_names: list[str] = []
        self.phase = "loading"  # loading | unavailable | waiting | code | connected
        self.opener: Callable[[Any], None] = open_path
        self._tick: str | None = None
        super().__init__(app)

    # -- layout -----------------------------------------------------------------------------------------

    def build(self, parent: ttk.Frame) -> None:
        _ = self.tr._
        self.top.title(_(self.title))
        self.wrap = self.scaled((800, 0))[0]
        ttk.Label(parent, text=_("Connect WhatsApp Web"), style="Title.TLabel").pack(anchor="w")
        ttk.Label(parent, style="Muted.TLabel", wraplength=self.wrap, justify="left",
                  text=_("Install the CRM Agent extension in the browser where you use WhatsApp Web, then pair it "
                         "with this agent.")).pack(anchor="w")
        self._build_install(parent)
        ttk.Separator(parent).pack(fill="x", pady=(8, 4))
        self._build_pairing(parent)

    def _build_install(self, parent: ttk.Frame) -> None:
        _ = self.tr._
        ttk.Label(parent, text=_("1. Install the extension"), style="Section.TLabel").pack(anchor="w", pady=(10, 4))
        where = ttk.Frame(parent)
        where.pack(fill="x")
        ttk.Label(where, text=_("Extension folder")).grid(row=0, column=0, sticky="w", padx=(0, 8))
        self.path_var = tk.StringVar(where, value=_("Looking for the extension's files…"))
        self.path_entry = ttk.Entry(where, textvariable=self.path_var, state="readonly")
        self.path_entry.grid(row=0, column=1, sticky="ew")
        self.open_button = ttk.Button(where, text=_("Open folder"), command=self.open_folder)
        self.open_button.grid(row=0, column=2, padx=(6, 0))
        self.copy_button = ttk.Button(where, text=_("Copy path"), command=self.copy_path)
        self.copy_button.grid(row=0, column=3, padx=(6, 0))
        self.zips_label = ttk.Label(where, text="", style="Muted.TLabel", wraplength=self.scaled((560, 0))[0],
                                    justify="left")
        self.zips_label.grid(row=1, column=1, columnspan=3, sticky="w", pady=(2, 0))
        where.columnconfigure(1, weight=1)
        for button in (self.open_button, self.copy_button):
            button.state(["disabled"])

        steps = ttk.Frame(parent)
        steps.pack(fill="x", pady=(8, 0))
        wrap = self.scaled((400, 0))[0]
        for column, (title, lines) in enumerate((("Chrome, Edge, Brave", CHROMIUM_STEPS), ("Firefox", FIREFOX_STEPS))):
            box = ttk.Frame(steps, style="Card.TFrame", padding=(12, 8))
            box.grid(row=0, column=column, sticky="nsew", padx=(0 if column == 0 else 8, 0))
            ttk.Label(box, text=title, style="CardHeading.TLabel").pack(anchor="w", pady=(0, 4))
            for number, line in enumerate(lines, start=1):
                ttk.Label(box, text=f"{number}.  {_(line)}", style="CardText.TLabel", wraplength=wrap,
                          justify="left").pack(anchor="w", pady=1)
            steps.columnconfigure(column, weight=1, uniform="steps")

    def _build_pairing(self, parent: ttk.Frame) -> None:
        _ = self.tr._
        ttk.Label(parent, text=_("2. Pair the browser with this agent"), style="Section.TLabel").pack(anchor="w")
        ttk.Label(parent, style="Muted.TLabel", wraplength=self.wrap, justify="left",
                  text=_("In the extension's options page click “Pair”: the code appears here. Type it there.")).pack(
                      anchor="w", pady=(0, 6))
        self.pair_box = ttk.Frame(parent, style="Card.TFrame", padding=(16, 8))
        self.pair_box.pack(fill="both", expand=True)
        self.headline = ttk.Label(self.pair_box, text=_("Loading…"), style="CardHeading.TLabel",
                                  wraplength=self.wrap, justify="center")
        self.headline.pack(anchor="center")
        self.code_label = ttk.Label(self.pair_box, text="", style="PairCode.TLabel")
        self.requester = ttk.Label(self.pair_box, text="", style="CardText.TLabel")
        self.code_row = ttk.Frame(self.pair_box, style="Card.TFrame", borderwidth=0)
        self.countdown = ttk.Label(self.code_row, text="", style="CardMuted.TLabel")
        self.countdown.pack(side="left", padx=(0, 12))
        self.deny_button = ttk.Button(self.code_row, text=_("Deny"), command=self.deny)
        self.deny_button.pack(side="left")
        self.detail = ttk.Label(self.pair_box, text="", style="CardMuted.TLabel", wraplength=self.wrap,
                                justify="center")
        self.detail.pack(anchor="center", pady=(4, 0))

    # -- extension files --------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.files is None:
            self.link.run(lambda: locate_extension(self.app.data_dir.root), self._show_files, self._files_failed)
        self.load_pairings()

    def _show_files(self, files: ExtensionFiles) -> None:
        if self.closed:
            return
        self.files = files
        target = files.folder_to_open()
        if files.folder is not None:
            self.path_var.set(str(files.folder))
        elif target is not None:
            self.path_var.set(str(target))
        else:
            self.path_var.set(self.tr._("Not found in this installation"))
        self.path_entry.xview_moveto(1.0)  # a long path shows its end: the folder's own name
        if files.zips:
            names = ", ".join(z.name for z in files.zips)
            self.zips_label.configure(text=self.tr._("Packages: {files}").format(files=names) if files.folder is None
                                      else self.tr._("Packages: {files} (in {folder})").format(
                                          files=names, folder=files.zips[0].parent))
        elif files.folder is None:
            self.zips_label.configure(text=self.tr._("Build it with scripts/build-extension.sh (writes "
                                                     "dist/crm-agent-*.zip), or get the zip from your CRM Agent "
                                                     "download."))
        for button in (self.open_button, self.copy_button):
            button.state(["!disabled"] if target is not None else ["disabled"])

    def _files_failed(self, exc: Exception) -> None:
        log.error("cannot prepare the extension's files: %s", exc)
        if not self.closed:
            self.path_var.set(self.tr._("Cannot prepare the extension's files: {reason}").format(reason=exc))

    def open_folder(self) -> None:
        target = self.files.folder_to_open() if self.files else None
        if target is None:
            return
        try:
            self.opener(target)
            self.say(self.tr._("Opened {folder}").format(folder=target))
        except OSError as exc:
            self.say(self.tr._("Cannot open the folder: {reason}").format(reason=exc))

    def copy_path(self) -> None:
        target = self.files.folder_to_open() if self.files else None
        if target is not None:
            copy_to_clipboard(self.top, str(target))
            self.say(self.tr._("Path copied: paste it in the browser's file picker."))

    # -- pairings ---------------------------------------------------------------------------------------

    def load_pairings(self) -> None:
        def work() -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
            return optional_items(self.link, "/api/pairing/pending"), optional_items(self.link, "/api/extensions") or []

        self.link.run(work, self._pairings_loaded, self._pairings_failed)

    def _pairings_loaded(self, result: tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]) -> None:
        if self.closed:
            return
        pending, extensions = result
        self.paired_names = [str(e.get("name") or self.tr._("a browser")) for e in extensions
                             if e.get("state") == "active"]
        if pending is None:
            self.show_unavailable()
            return
        self.pending = {str(p["pairing_id"]): p for p in pending if p.get("pairing_id")}
        if self.phase != "connected" or self.pending:
            self.show_next()

    def _pairings_failed(self, exc: Exception) -> None:
        if self.closed:
            return
        self.on_error(exc)
        if self.phase == "loading":
            self._set_phase("waiting", self.tr._("Cannot reach the CRM Agent service"),
                            detail=self.tr._("Start it (or the CRM Agent app), then pair again."))

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        if kind == "pairing.requested" and data.get("pairing_id"):
            self.pending[str(data["pairing_id"])] = data
            self.show_pairing(data)
            self.show()  # over the browser, where the user is looking for the code
        elif kind == "pairing.ended":
            self.pairing_ended(str(data.get("pairing_id") or ""), str(data.get("reason") or ""))
        elif kind == "pairing.completed":
            self.pending.pop(str(data.get("pairing_id") or ""), None)
            self.paired(data.get("extension") if isinstance(data.get("extension"), dict) else {})
        elif kind in ("extension.revoked", "events.lost"):
            if self.phase == "connected":
                self.phase = "waiting"  # "Connected ✓" may name the revoked browser: show the list again
            self.load_pairings()

    def show_next(self, note: str = "") -> None:
        pairing = newest_pending(self.pending)
        if pairing is not None:
            self.show_pairing(pairing)
        else:
            self.show_waiting(note)

    def show_pairing(self, pairing: dict[str, Any]) -> None:
        _ = self.tr._
        self.shown = pairing
        self._set_phase("code", _("Type this code in the extension's options page"))
        self.code_label.configure(text=group_code(str(pairing.get("code") or "")))
        self.requester.configure(text=_("{browser} wants to connect").format(browser=browser_label(pairing, self.tr)))
        others = len(self.pending) - 1
        parts = [_("From {origin}.").format(origin=pairing["origin"])] if pairing.get("origin") else []
        parts.append(_("Not you? Deny it, and that browser cannot connect."))
        if others > 0:
            parts.append(" " + self.tr.n_("({n} other request waiting)", "({n} other requests waiting)", others))
        self.detail.configure(text=" ".join(parts))
        self._update_countdown()

    def show_waiting(self, note: str = "") -> None:
        self.shown = None
        already = (self.tr._("Already paired: {browsers}. Pair another browser the same way.").format(
            browsers=", ".join(self.paired_names)) if self.paired_names
            else self.tr._("The code appears here as soon as the browser asks to pair."))
        self._set_phase("waiting", self.tr._("Waiting for the browser…"), detail=f"{note}  {already}".strip())

    def show_unavailable(self) -> None:
        self.shown = None
        self._set_phase("unavailable", self.tr._("This version of the agent cannot pair browsers yet"),
                        detail=self.tr._("Update CRM Agent, then open this window again."))

    def pairing_ended(self, pairing_id: str, reason: str = "") -> None:
        was_shown = self.shown is not None and str(self.shown.get("pairing_id")) == pairing_id
        if pairing_id:
            self.pending.pop(pairing_id, None)
        else:
            self.load_pairings()  # an event without an id: ask which ones are left
        if was_shown or self.phase == "code":
            self.show_next(self.tr._(END_REASONS.get(reason, ENDED)))

    def paired(self, extension: dict[str, Any]) -> None:
        origin = extension.get("origin")
        for pairing_id, pairing in list(self.pending.items()):
            if origin and pairing.get("origin") == origin:
                del self.pending[pairing_id]
        name = str(extension.get("name") or self.tr._("your browser"))
        if name not in self.paired_names:
            self.paired_names.append(name)
        self.shown = None
        self._set_phase("connected", self.tr._("Connected ✓  {browser}").format(browser=name),
                        headline_style="Connected.TLabel",
                        detail=self.tr._("Open https://web.whatsapp.com in that browser: its messages now reach CRM "
                                         "Agent. You can close this window."))
        self.say(self.tr._("{browser} is paired.").format(browser=name))

    def deny(self) -> None:
        pairing = self.shown
        if pairing is None:
            return
        pairing_id = str(pairing["pairing_id"])
        self.deny_button.state(["disabled"])

        def done(_body: Any) -> None:
            if self.closed:
                return
            self.deny_button.state(["!disabled"])
            self.say(self.tr._("Denied the request from {browser}.").format(
                browser=pairing.get("name") or self.tr._("the browser")))
            self.pairing_ended(pairing_id, "denied")

        def failed(exc: Exception) -> None:
            if self.closed:
                return
            self.deny_button.state(["!disabled"])
            if isinstance(exc, ApiError) and exc.status in (404, 410):
                self.pairing_ended(pairing_id, "expired")
            else:
                self.say(self.tr._("Could not deny: {reason}").format(reason=exc))

        self.link.call("DELETE", f"/api/pairing/{pairing_id}", on_done=done, on_error=failed)

    # -- drawing ----------------------------------------------------------------------------------------

    def _set_phase(self, phase: str, headline: str, *, detail: str | None = None,
                   headline_style: str = "CardHeading.TLabel") -> None:
        self.phase = phase
        self.headline.configure(text=headline, style=headline_style)
        code_widgets = (self.code_label, self.requester, self.code_row)
        if phase == "code":
            for widget, pady in zip(code_widgets, ((0, 0), (0, 4), (0, 0)), strict=True):
                if not widget.winfo_manager():
                    widget.pack(anchor="center", pady=pady, before=self.detail)
        else:
            for widget in code_widgets:
                widget.pack_forget()
            self._stop_countdown()
        if detail is not None:
            self.detail.configure(text=detail)

    def _update_countdown(self) -> None:
        self._stop_countdown()
        if self.phase != "code" or self.shown is None or self.closed:
            return
        expires = expiry_epoch(self.shown.get("expires_at"))
        if expires is None:
            self.countdown.configure(text="")
            return
        left = expires - self.clock()
        if left <= 0:
            self.pairing_ended(str(self.shown.get("pairing_id")), "expired")
            return
        self.countdown.configure(text=self.tr._("Expires in {time}").format(time=fmt_countdown(left)))
        self._tick = self.top.after(int((left % 1 or 1) * 1000) + 20, self._update_countdown)

    def _stop_countdown(self) -> None:
        if self._tick is not None:
            self.top.after_cancel(self._tick)
            self._tick = None

    def close(self) -> None:
        self._stop_countdown()
        super().close()


def optional_items(link: Any, path: str) -> list[dict[str, Any]] | None:
    """GET path's `items` (worker thread); None when the service has no such route yet (404/405): the
    pairing API may be missing from an older service, and the window must still open."""
    try:
        body = link.request("GET", path)
    except ApiError as exc:
        if exc.status in (404, 405):
            return None
        raise
    items = body.get("items") if isinstance(body, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
