"""Window size and position remembered across runs (`ui_state.json` in the data directory)."""

from __future__ import annotations

import json
import logging
import os
import re
import tkinter as tk
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

GEOMETRY = re.compile(r"(\d+)x(\d+)([+-]-?\d+)([+-]-?\d+)")


class WindowState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._save()

    def _save(self) -> None:
        # Atomic: a crash while saving must not leave a truncated file (it would only lose positions, but
        # the next start would log a parse warning forever).
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self._data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot save window positions: %s", exc)

    def restore_geometry(self, window: tk.Toplevel, name: str, default_size: tuple[int, int]) -> None:
        """Apply the saved geometry when it still fits on this screen; else the default size, centred."""
        saved = self.get(f"geometry.{name}")
        screen_w, screen_h = window.winfo_screenwidth(), window.winfo_screenheight()
        match = GEOMETRY.fullmatch(saved) if isinstance(saved, str) else None
        if match:
            w, h, x, y = int(match[1]), int(match[2]), int(match[3]), int(match[4])
            if w <= screen_w and h <= screen_h and 0 <= x < screen_w - 50 and 0 <= y < screen_h - 50:
                window.geometry(f"{w}x{h}+{x}+{y}")
                return
        # Leave room for the title bar, a panel and the menu bar: the whole window must show at 1024x768.
        w, h = min(default_size[0], screen_w - 24), min(default_size[1], screen_h - 120)
        window.geometry(f"{w}x{h}+{max(0, (screen_w - w) // 2)}+{max(0, (screen_h - h) // 2)}")

    def remember_geometry(self, window: tk.Toplevel, name: str) -> None:
        try:
            self.set(f"geometry.{name}", window.winfo_geometry())
        except tk.TclError:
            pass
