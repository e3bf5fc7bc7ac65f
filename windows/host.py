"""What a window needs from the UI process that hosts it: the seam between the windows and windows/app.py.

windows/app.py's UiApp is the one implementation; the windows only see this Protocol, so a window module never
imports windows.app (which imports the windows: a cycle) and a test can host a window in something smaller.
"""

from __future__ import annotations

import tkinter as tk
from typing import Any, Protocol, runtime_checkable

from core.i18n import Translator
from core.paths import DataDir
from windows.calls import UiQueue
from windows.service_link import ServiceLink
from windows.state import WindowState


@runtime_checkable
class WindowHost(Protocol):
    root: tk.Tk  # the hidden root every window's Toplevel belongs to
    data_dir: DataDir
    config: Any  # core.config's Config (with environment overrides), or None when not loaded
    dpi: float  # the screen's scale factor: sizes given at 96 dpi are multiplied by it
    ui: UiQueue  # runs callables on the Tk thread
    link: ServiceLink  # the service: HTTP off the Tk thread, events, up/down
    state: WindowState  # remembered geometry and per-window settings
    tr: Translator  # the user's language: every text a window shows goes through it (core/i18n.py)

    def open(self, name: str) -> object:
        """Show the window `name` ("dashboard", "settings", "logs", "connect"), creating it on first use."""

    def window_closed(self, name: str) -> None:
        """A window tells its host it closed (the host quits after the last one)."""

    def quit(self) -> None:
        """Close every window and end the UI process."""
