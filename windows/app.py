"""The UI process: `agent.py ui dashboard|settings|logs|connect [--data-dir DIR]`.

One UI process per data directory hosts every open window: a later `agent.py ui settings` hands its
request to the running one (desktop.instance, name "ui") and exits. The process starts on demand (the
tray launches it) and exits when its last window closes. It is a client of the service only (HTTP + WS
with the local token); it never imports gevent or the storage layer.

Threads: Tk's main loop owns every widget; HTTP calls run on a small pool (windows.calls); the event
stream has its own thread; the instance listener takes requests from later launches. Everything they
produce reaches Tk through UiQueue.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.i18n import translator_for
from core.options import add_common_options
from core.paths import DataDir, resolve_data_dir
from desktop.instance import UI, InstanceLock, hand_over
from windows.base import BaseWindow
from windows.calls import BackgroundCalls, UiQueue
from windows.host import WindowHost
from windows.service_link import ServiceLink
from windows.state import WindowState
from windows.theme import apply_theme

log = logging.getLogger("ui")

WINDOWS = ("dashboard", "settings", "logs", "connect")


def on_first_use(module: str, name: str) -> Callable[[WindowHost], BaseWindow]:
    """A window kind whose module is imported when such a window first opens. One UI process usually shows one
    or two kinds, and every module loaded stays in its memory (issue 17): the dashboard's charts import
    matplotlib and numpy (~40 MB), which the logs, settings and connect windows never need; those windows'
    modules (forms, the extension files, autostart...) are in turn not needed by a dashboard."""

    def create(app: WindowHost) -> BaseWindow:
        return getattr(importlib.import_module(module), name)(app)

    return create


def window_classes() -> dict[str, Callable[[WindowHost], BaseWindow]]:
    """How each window kind is created (a fresh dict per app: tests add their own kinds to it)."""
    return {"dashboard": on_first_use("windows.dashboard", "DashboardWindow"),
            "settings": on_first_use("windows.settings", "SettingsWindow"),
            "logs": on_first_use("windows.logs", "LogsWindow"),
            "connect": on_first_use("windows.connect", "ConnectWindow")}


class UiApp:
    """Owns the hidden Tk root, the service link and the open windows (at most one of each kind); the windows
    see it as a WindowHost (windows/host.py)."""

    def __init__(self, root: tk.Tk, data_dir: DataDir, config: Any = None) -> None:
        self.root = root
        self.data_dir = data_dir
        self.config = config
        self.dpi = apply_theme(root)
        self.ui = UiQueue(root)
        self.calls = BackgroundCalls(self.ui)
        self.tr = translator_for(config["ui.language"] if config is not None else "auto")
        self.link = ServiceLink(data_dir, self.ui, self.calls, tr=self.tr)
        self.state = WindowState(data_dir.root / "ui_state.json")
        self.windows: dict[str, BaseWindow] = {}
        self._classes = window_classes()
        self._set_icon()

    def start(self) -> None:
        self.ui.start()
        self.link.on_event(self._open_requested)
        self.link.start_events()

    def _open_requested(self, event: dict[str, Any]) -> None:
        """The extension's "open dashboard" (ui.open_requested) is the tray's to act on; with no tray running
        (windows started on their own) the service still counts these windows as the desktop: act here."""
        if event.get("type") != "ui.open_requested" or self.link.tray_running():
            return
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        name = data.get("window") or "dashboard"
        if name in WINDOWS:
            self.open(name)

    def open(self, name: str) -> BaseWindow:
        """Show the window `name`, creating it on first use (Tk thread)."""
        window = self.windows.get(name)
        if window is None or window.closed:
            log.info("opening the %s window", name)
            window = self._classes[name](self)
            self.windows[name] = window
        window.show()
        return window

    def handle_request(self, request: str) -> None:
        """From another launch (instance listener thread): 'open-<window>'."""
        name = request.removeprefix("open-")
        if request.startswith("open-") and name in WINDOWS:
            self.ui.post(lambda: self.open(name))

    def window_closed(self, name: str) -> None:
        self.windows.pop(name, None)
        if not self.windows:
            log.info("last window closed")
            self.quit()

    def quit(self) -> None:
        for window in list(self.windows.values()):
            window.close()  # calls window_closed, which calls quit again once empty: harmless
        self.root.quit()

    def shutdown(self) -> None:
        self.ui.stop()
        self.link.stop()
        self.calls.shutdown()

    def _set_icon(self) -> None:
        icon = Path(__file__).resolve().parent.parent / "assets" / "icon.png"
        try:
            self._icon = tk.PhotoImage(file=str(icon))
            self.root.iconphoto(True, self._icon)
        except tk.TclError as exc:
            log.debug("no window icon: %s", exc)


def _display_available() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _load_config(data_dir: DataDir, config_file: str | None) -> Any:
    from core.config import ConfigError, load_config, load_effective_config

    path = Path(config_file).expanduser() if config_file else data_dir.config_file
    try:
        return load_effective_config(path)
    except ConfigError as exc:
        # The settings window is where a user fixes a bad file: open anyway, with the defaults.
        log.error("config error (windows use the defaults): %s", exc)
        return load_config(None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent.py ui", description="Open a CRM Agent window.")
    parser.add_argument("window", choices=WINDOWS, nargs="?", default="dashboard")
    add_common_options(parser)
    args = parser.parse_args(argv)
    if not _display_available():
        print("no display: the windows need a desktop session (DISPLAY is not set)", file=sys.stderr)
        return 2
    data_dir = DataDir(resolve_data_dir(args.data_dir)).ensure()
    config = _load_config(data_dir, args.config)
    from core.logging_setup import setup_logging

    setup_logging(config["logging.level"], data_dir.logs / "ui.log", config["logging.max_bytes"],
                  config["logging.backup_count"], to_stderr=True)
    lock = InstanceLock(data_dir.root, UI)
    if not lock.acquire():
        if hand_over(data_dir.root, f"open-{args.window}", name=UI):
            print(f"CRM Agent windows are already open: asked them to show {args.window}", flush=True)
            return 0
        print("another CRM Agent UI holds the lock but does not answer", file=sys.stderr)
        return 1
    try:
        root = tk.Tk(className="CRM-Agent")
    except tk.TclError as exc:
        print(f"cannot open the display: {exc}", file=sys.stderr)
        lock.release()
        return 2
    root.withdraw()  # the root only hosts the windows (Toplevels), so closing one never ends the others
    app = UiApp(root, data_dir, config)
    try:
        lock.serve(app.handle_request)
        app.start()
        app.open(args.window)
        root.mainloop()
    finally:
        app.shutdown()
        lock.release()
        try:
            root.destroy()
        except tk.TclError:
            pass
    return 0
