"""The tray icon: the chat bubble from assets/ with a coloured badge per state, a tooltip and the menu.

pystray is imported lazily: importing it without a display raises (its X11 backend connects at import).
One thread runs pystray's loop (Icon.run); other threads change the icon through `show_status`, which
pystray's backends marshal to that loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from core.i18n import Translator
from tray.status import DEGRADED, DOWN, PAUSED, RUNNING, Status

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
BADGE_COLOURS = {
    RUNNING: (22, 163, 74),  # green
    DEGRADED: (245, 158, 11),  # amber
    DOWN: (220, 38, 38),  # red
    PAUSED: (148, 163, 184),  # grey
}
# pystray's X11 backend pastes the image into an RGB window, dropping alpha: give it a panel-like background.
XORG_BACKGROUND = (40, 44, 52)


def asset_path(name: str = "icon.png") -> Path:
    """assets/ next to the sources, or inside the PyInstaller bundle."""
    import sys

    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / "assets" / name).exists():
        return Path(bundle) / "assets" / name
    return ASSETS / name


def load_base(size: int = 64) -> Image.Image:
    path = asset_path(f"icon-{size}.png")
    if not path.exists():
        path = asset_path("icon.png")
    image = Image.open(path).convert("RGBA")
    return image if image.size == (size, size) else image.resize((size, size), Image.LANCZOS)


def draw_state(base: Image.Image, state: str, background: tuple[int, int, int] | None = None) -> Image.Image:
    """The base image with a round badge in the bottom-right corner in the state's colour."""
    image = base.copy()
    w, h = image.size
    r = round(w * 0.22)
    cx, cy = w - r - 1, h - r - 1
    draw = ImageDraw.Draw(image)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 255, 255, 255))
    inner = r - max(1, round(w / 32))
    draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=(*BADGE_COLOURS[state], 255))
    if state == PAUSED:  # a pause sign, so the state does not rest on colour alone
        bar_w, bar_h = max(1, inner // 3), inner
        for dx in (-bar_w, bar_w):
            x = cx + dx
            draw.rectangle((x - bar_w // 2, cy - bar_h // 2, x + bar_w // 2, cy + bar_h // 2), fill="white")
    elif state == DOWN:  # a cross
        d = inner // 2
        draw.line((cx - d, cy - d, cx + d, cy + d), fill="white", width=max(1, inner // 3))
        draw.line((cx - d, cy + d, cx + d, cy - d), fill="white", width=max(1, inner // 3))
    if background is not None:
        flat = Image.new("RGBA", image.size, (*background, 255))
        flat.alpha_composite(image)
        image = flat
    return image


@dataclass
class MenuActions:
    """What the menu does; app.py fills it in. Callables take no arguments and must return quickly."""

    open_dashboard: Callable[[], None]
    open_settings: Callable[[], None]
    open_logs: Callable[[], None]
    open_connect: Callable[[], None]  # the Connect WhatsApp Web window
    needs_extension: Callable[[], bool]  # no browser extension paired yet: offer Connect WhatsApp Web
    toggle_capture: Callable[[], None]
    restart_service: Callable[[], None]
    backup_now: Callable[[], None]
    toggle_autostart: Callable[[], None]
    autostart_enabled: Callable[[], bool]
    capture_paused: Callable[[], bool]
    quit: Callable[[], None]


def build_menu(pystray: Any, actions: MenuActions, tr: Translator) -> Any:
    item = pystray.MenuItem
    resume, pause = tr._("Resume capture"), tr._("Pause capture")
    return pystray.Menu(
        item(tr._("Open dashboard"), lambda: actions.open_dashboard(), default=True),
        item(tr._("Settings"), lambda: actions.open_settings()),
        item(tr._("Logs"), lambda: actions.open_logs()),
        item(tr._("Connect WhatsApp Web…"), lambda: actions.open_connect(),
             visible=lambda _item: actions.needs_extension()),
        pystray.Menu.SEPARATOR,
        item(lambda _item: resume if actions.capture_paused() else pause, lambda: actions.toggle_capture()),
        item(tr._("Restart service"), lambda: actions.restart_service()),
        item(tr._("Backup now"), lambda: actions.backup_now()),
        item(tr._("Start on login"), lambda: actions.toggle_autostart(),
             checked=lambda _item: actions.autostart_enabled()),
        pystray.Menu.SEPARATOR,
        item(tr._("Quit"), lambda: actions.quit()),
    )


class TrayIcon:
    """pystray.Icon with our images, tooltip and menu. Where the backend has no menu (pystray's X11
    backend) a click runs the default action, Open dashboard, whose window offers the other actions."""

    def __init__(self, actions: MenuActions, initial: Status, tr: Translator) -> None:
        import pystray  # needs a display; see the module docstring

        self._pystray = pystray
        self.backend = pystray.Icon.__module__.rsplit(".", 1)[-1]  # "_xorg", "_gtk", "_win32", ...
        self.has_menu = bool(pystray.Icon.HAS_MENU)
        self._base = load_base(64)
        self._background = XORG_BACKGROUND if self.backend == "_xorg" else None
        self._lock = threading.Lock()  # pystray's xorg dispatcher shares one reply queue between callers
        self._status = initial
        self.tr = tr  # the menu's and the tooltip's language
        if self.has_menu:
            menu = build_menu(pystray, actions, tr)
        else:
            menu = pystray.Menu(pystray.MenuItem(tr._("Open dashboard"), lambda: actions.open_dashboard(),
                                                 default=True))
        self.icon = pystray.Icon("crm-agent", self.image_for(initial), initial.tooltip(tr), menu)
        log.info("tray icon backend %s (menu: %s)", self.backend, "yes" if self.has_menu else "default action only")

    def image_for(self, status: Status) -> Image.Image:
        return draw_state(self._base, status.state, self._background)

    def run(self, setup: Callable[[Any], None]) -> None:
        """Run pystray's loop in this thread until stop(); setup runs in another thread once it is ready."""
        self.icon.run(setup=setup)

    def show_status(self, status: Status) -> None:
        with self._lock:
            previous, self._status = self._status, status
            if not self.icon._running:
                return
            if previous.state != status.state:
                self.icon.icon = self.image_for(status)
            tooltip = status.tooltip(self.tr)
            if previous.tooltip(self.tr) != tooltip:
                self.icon.title = tooltip
            if self.has_menu:
                self.icon.update_menu()

    def call_locked(self, fn: Callable[[], Any]) -> Any:
        """Run fn (a call into pystray from another thread) under the icon's lock."""
        with self._lock:
            return fn()

    def stop(self) -> None:
        with self._lock:
            self.icon.stop()
