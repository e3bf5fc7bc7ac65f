"""What every window shares: its Toplevel, remembered geometry, shortcuts, the service-down banner, and the
hooks a window implements (build, refresh, on_event)."""

from __future__ import annotations

import logging
import tkinter as tk
from tkinter import ttk
from typing import Any

from desktop.service_client import ServiceUnavailable
from windows.agent_menu import AgentMenu
from windows.host import WindowHost

log = logging.getLogger(__name__)

# How long the UI waits for its first connection before it says the service is not running.
FIRST_CONNECT_GRACE_MS = 2000


class ServiceBanner(ttk.Frame):
    """"Service not running — Start": shown above a window's content while the service is unreachable."""

    def __init__(self, parent: tk.Misc, app: WindowHost) -> None:
        super().__init__(parent, style="Error.TFrame", padding=(10, 6))
        self._app = app
        self._not_running = app.tr._("The CRM Agent service is not running.")
        self.message = ttk.Label(self, style="Error.TLabel", text=self._not_running)
        self.message.pack(side="left")
        self.start_button = ttk.Button(self, text=app.tr._("Start"), command=self._start)
        self.start_button.pack(side="right")
        self.visible = False

    def show(self, text: str | None = None) -> None:
        if text:
            self.message.configure(text=text)
        if not self.visible:
            packed = self.master.pack_slaves()
            if packed:
                self.pack(side="top", fill="x", before=packed[0])
            else:
                self.pack(side="top", fill="x")
            self.visible = True

    def hide(self) -> None:
        if self.visible:
            self.pack_forget()
            self.visible = False
            self.message.configure(text=self._not_running)

    def _start(self) -> None:
        self.message.configure(text=self._app.link.start_service())


class BaseWindow:
    """Subclasses set `name`, `title` (English, marked with N_: shown through self.tr), `default_size` and
    implement `build(parent)`; `refresh()` loads data (through `self.link`, never blocking), `on_event(event)`
    reacts to service events. Every text a window shows goes through `self.tr` (core/i18n.py)."""

    name = "window"
    title = "CRM Agent"
    default_size = (1024, 720)

    def __init__(self, app: WindowHost) -> None:
        self.app = app
        self.link = app.link
        self.tr = app.tr
        self.top = tk.Toplevel(app.root)
        self.top.title(self.tr._(self.title))
        self.top.minsize(640, 480)
        app.state.restore_geometry(self.top, self.name, self.scaled(self.default_size))
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.top.bind("<Control-w>", lambda _e: self.close())
        self.top.bind("<F5>", lambda _e: self.refresh())
        self.banner = ServiceBanner(self.top, app)
        self.status = ttk.Label(self.top, style="Muted.TLabel", padding=(8, 2), anchor="w")
        self.status.pack(side="bottom", fill="x")
        self.body = ttk.Frame(self.top, padding=8)
        self.body.pack(side="top", fill="both", expand=True)
        self.closed = False
        self.menu = AgentMenu(self, self.say)
        self.top.bind("<Control-q>", lambda _e: self.menu.quit_agent())
        self.build(self.body)
        self._unsubscribe = [self.link.on_event(self._event), self.link.on_state(self._connection)]
        self._first_check = self.top.after(FIRST_CONNECT_GRACE_MS, self._check_first_connection)
        self.refresh()
        self._refresh_agent_state()

    # -- for subclasses ------------------------------------------------------------------------------

    def build(self, parent: ttk.Frame) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        """Reload everything shown from the service (F5, reconnect)."""

    def on_event(self, event: dict[str, Any]) -> None:
        """A service event arrived (Tk thread)."""

    def on_health(self, health: dict[str, Any]) -> None:
        """GET /api/health answered (on opening, reconnecting, and when a subclass asks again)."""

    def on_error(self, exc: Exception) -> None:
        """Default handling of a failed call: the banner for an unreachable service, else log it."""
        if isinstance(exc, ServiceUnavailable):
            self.banner.show()
        else:
            log.warning("%s: %s", self.name, exc)

    # -- helpers -------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """One line in the window's status bar (outcomes of actions, last update)."""
        if not self.closed:
            self.status.configure(text=text)

    def scaled(self, size: tuple[int, int]) -> tuple[int, int]:
        return int(size[0] * self.app.dpi), int(size[1] * self.app.dpi)

    def show(self) -> None:
        self.top.deiconify()
        self.top.lift()
        self.top.focus_force()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.app.state.remember_geometry(self.top, self.name)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.top.after_cancel(self._first_check)
        self.top.destroy()
        self.app.window_closed(self.name)

    def _event(self, event: dict[str, Any]) -> None:
        if not self.closed:
            self.menu.on_event(event)
            self.on_event(event)

    def _refresh_agent_state(self) -> None:
        self.link.get("/api/health", self._health_loaded, lambda exc: None)

    def _health_loaded(self, health: dict[str, Any]) -> None:
        if not self.closed:
            self.menu.update_from_health(health)
            self.on_health(health)

    def _connection(self, connected: bool) -> None:
        if self.closed:
            return
        if connected:
            was_down = self.banner.visible
            self.banner.hide()
            if was_down:
                self.refresh()
            self._refresh_agent_state()
        else:
            self.banner.show()

    def _check_first_connection(self) -> None:
        if not self.closed and not self.link.connected:
            self.banner.show()
