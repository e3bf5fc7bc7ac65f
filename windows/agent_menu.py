"""The menu bar every window carries: the tray's actions, for desktops whose tray icon has no menu.

pystray's X11 backend has no menus (a click opens the dashboard), so the windows offer what the tray menu
offers: open the other windows (Connect WhatsApp Web too), pause/resume capture, back up now, start on login,
quit. Every network call runs off the Tk thread; the outcome is said in the window's status line.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from typing import Any, Protocol

from core.i18n import N_
from desktop import autostart
from desktop.instance import QUIT, TRAY, hand_over
from windows.errors import describe_error
from windows.host import WindowHost
from windows.service_link import ServiceLink
from windows.widgets import mnemonic

log = logging.getLogger(__name__)

WINDOW_SHORTCUTS = ((N_("Dashboard"), "dashboard", "Control-Key-1", "Ctrl+1"),
                    (N_("Settings"), "settings", "Control-Key-2", "Ctrl+2"),
                    (N_("Logs"), "logs", "Control-Key-3", "Ctrl+3"))

CONNECT_LABEL = N_("Connect WhatsApp Web…")  # English: shown through tr._()


class MenuWindow(Protocol):
    """What the menu needs from the window that carries it (windows.base.BaseWindow, which builds the menu, so
    this module cannot import it)."""

    top: tk.Toplevel
    app: WindowHost
    link: ServiceLink

    def close(self) -> None: ...


class AgentMenu:
    def __init__(self, window: MenuWindow, say: Callable[[str], None],
                 startup: Any = None) -> None:
        self.window = window
        self.app = window.app
        self.link = window.link
        self.say = say
        self.tr = tr = window.app.tr
        self.startup = startup if startup is not None else autostart.for_platform()
        top = window.top
        self.capture_paused = tk.BooleanVar(top, value=False)
        self.start_on_login = tk.BooleanVar(top, value=self._autostart_enabled())
        bar = tk.Menu(top)
        self.agent = tk.Menu(bar, tearoff=False)
        self.agent.add_checkbutton(label=tr._("Pause capture"), variable=self.capture_paused,
                                   command=self.toggle_capture)
        self.agent.add_command(label=tr._("Back up now"), command=self.backup_now)
        self.agent.add_separator()
        self.agent.add_checkbutton(label=tr._("Start on login"), variable=self.start_on_login,
                                   command=self.toggle_autostart)
        self.agent.add_separator()
        self.agent.add_command(label=tr._("Close window"), accelerator="Ctrl+W", command=window.close)
        self.agent.add_command(label=tr._("Quit CRM Agent"), accelerator="Ctrl+Q", command=self.quit_agent)
        label, underline = mnemonic(tr._("&Agent"))
        bar.add_cascade(label=label, underline=underline, menu=self.agent)
        self.windows = tk.Menu(bar, tearoff=False)
        for label, name, sequence, accelerator in WINDOW_SHORTCUTS:
            self.windows.add_command(label=tr._(label), accelerator=accelerator,
                                     command=lambda n=name: self.app.open(n))
            top.bind(f"<{sequence}>", lambda _e, n=name: self.app.open(n))
        self.windows.add_separator()
        self.windows.add_command(label=tr._(CONNECT_LABEL), command=lambda: self.app.open("connect"))
        label, underline = mnemonic(tr._("&Window"))
        bar.add_cascade(label=label, underline=underline, menu=self.windows)
        top.configure(menu=bar)
        self.bar = bar

    # -- state from the service ---------------------------------------------------------------------

    def update_from_health(self, health: dict[str, Any]) -> None:
        """Keep the checkbox true to the service (another client may have paused capture)."""
        capture = health.get("capture") if isinstance(health, dict) else None
        if isinstance(capture, dict):
            self.capture_paused.set(bool(capture.get("paused")))

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "capture.state" and isinstance(event.get("data"), dict):
            self.capture_paused.set(bool(event["data"].get("paused")))

    # -- actions --------------------------------------------------------------------------------------

    def toggle_capture(self) -> None:
        paused = self.capture_paused.get()

        def done(_body: Any) -> None:
            self.say(self.tr._("Capture paused: new messages are refused until you resume.") if paused
                     else self.tr._("Capture resumed."))

        def failed(exc: Exception) -> None:
            self.capture_paused.set(not paused)
            self.say(self.tr._("Capture unchanged: {problem}").format(problem=describe_error(exc, self.tr)))

        self.link.call("POST", "/api/system/capture", {"paused": paused}, on_done=done, on_error=failed)

    def backup_now(self) -> None:
        self.say(self.tr._("Backing up…"))

        def done(body: Any) -> None:
            where = body.get("path") if isinstance(body, dict) else None
            self.say(self.tr._("Backup done: {path}").format(path=where) if where else self.tr._("Backup done."))

        self.link.call("POST", "/api/system/backup", {}, on_done=done,
                       on_error=lambda exc: self.say(self.tr._("Backup failed: {problem}").format(
                           problem=describe_error(exc, self.tr))))

    def toggle_autostart(self) -> None:
        want = self.start_on_login.get()
        try:
            where = self.startup.enable(autostart.launch_command()) if want else self.startup.disable()
        except OSError as exc:
            self.start_on_login.set(not want)
            self.say(self.tr._("Start on login unchanged: {problem}").format(problem=exc))
            return
        log.info("start on login %s: %s", "on" if want else "off", where)
        self.say(self.tr._("CRM Agent will start when you log in.") if want
                 else self.tr._("CRM Agent will not start on login."))

    def quit_agent(self) -> None:
        """Quit everything: the tray (which stops the service) when it runs, and these windows."""
        # Synchronous on purpose: a loopback round trip of a few ms, and the process ends right after.
        if self.link.tray_running() and not hand_over(self.app.data_dir.root, QUIT, timeout=3, name=TRAY):
            log.warning("the tray did not answer the quit request")
        self.app.quit()

    def _autostart_enabled(self) -> bool:
        try:
            return bool(self.startup.enabled())
        except OSError:
            return False
