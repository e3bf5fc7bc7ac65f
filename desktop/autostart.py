"""Start on login (opt-in): `agent.py autostart on|off|status` and the tray's "Start on login" checkbox.

Linux: an XDG autostart entry, $XDG_CONFIG_HOME/autostart/crm-agent.desktop (valid per
desktop-file-validate). Windows: the "CRM Agent" value under HKCU\\Software\\Microsoft\\Windows\\
CurrentVersion\\Run. macOS: ~/Library/LaunchAgents/com.crm-agent.agent.plist (RunAtLoad; launchd reads it
at the next login). Each launches the frozen executable when frozen, else this Python with agent.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.children import agent_command, is_frozen

NAME = "CRM Agent"
DESKTOP_FILE = "crm-agent.desktop"
LAUNCH_AGENT_LABEL = "com.crm-agent.agent"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = f"HKCU\\{RUN_KEY}\\{NAME}"
ICON = Path(__file__).resolve().parent.parent / "assets" / "icon.png"


def launch_command(data_dir: str | None = None) -> list[str]:
    """argv that starts the desktop agent at login."""
    cmd = agent_command()
    if sys.platform == "win32" and not is_frozen():
        pythonw = Path(cmd[0]).with_name("pythonw.exe")  # no console window at login
        if pythonw.exists():
            cmd[0] = str(pythonw)
    if data_dir:
        cmd += ["--data-dir", str(data_dir)]
    return cmd


class AutostartBackend(ABC):
    """How one platform starts the agent at login: enable writes the entry, disable removes it (no error when
    there is none), enabled says whether it is there; enable and disable return where, for the user."""

    @abstractmethod
    def enable(self, cmd: list[str]) -> str: ...

    @abstractmethod
    def disable(self) -> str: ...

    @abstractmethod
    def enabled(self) -> bool: ...


class FileAutostart(AutostartBackend):
    """An entry that is one file: written whole (a temporary file, then a rename), removed to disable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @abstractmethod
    def content(self, cmd: list[str]) -> bytes:
        """The file's bytes for an entry that runs cmd."""

    def enable(self, cmd: list[str]) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(self.content(cmd))
        os.replace(tmp, self.path)
        return str(self.path)

    def disable(self) -> str:
        self.path.unlink(missing_ok=True)
        return str(self.path)

    def enabled(self) -> bool:
        return self.path.exists()


# -- Linux (XDG) ------------------------------------------------------------------------------------

def xdg_autostart_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / DESKTOP_FILE


def desktop_exec_quote(arg: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec ("...", with \\ " ` $ escaped; % doubled)."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`="):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def entry_icon() -> Path:
    """The icon file the autostart entry names. The frozen binary's own copy sits in a directory that is
    removed when it exits, so it is first copied to $XDG_DATA_HOME/icons/crm-agent.png."""
    if not is_frozen():
        return ICON
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    target = base / "icons" / "crm-agent.png"
    data = ICON.read_bytes()
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def desktop_entry(cmd: list[str]) -> str:
    # The quoting rule applies after the general string unescaping, so every backslash is doubled again.
    exec_line = " ".join(desktop_exec_quote(a) for a in cmd).replace("\\", "\\\\")
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        f"Name={NAME}",
        "Comment=Local companion for WhatsApp sales: tray icon, alerts and the capture service",
        f"Exec={exec_line}",
        f"Icon={entry_icon()}",
        "Terminal=false",
        "Categories=Office;",
        "X-GNOME-Autostart-enabled=true",
    ]
    return "\n".join(lines) + "\n"


class XdgAutostart(FileAutostart):
    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path or xdg_autostart_file())

    def content(self, cmd: list[str]) -> bytes:
        return desktop_entry(cmd).encode("utf-8")


# -- Windows (registry) -----------------------------------------------------------------------------

class WindowsAutostart(AutostartBackend):
    def __init__(self, winreg=None) -> None:  # noqa: ANN001 - the winreg module (injected by tests)
        if winreg is None:
            import winreg as winreg_module

            winreg = winreg_module
        self.winreg = winreg

    def enable(self, cmd: list[str]) -> str:
        w = self.winreg
        with w.CreateKeyEx(w.HKEY_CURRENT_USER, RUN_KEY, 0, w.KEY_SET_VALUE) as key:
            w.SetValueEx(key, NAME, 0, w.REG_SZ, subprocess.list2cmdline(cmd))
        return RUN_VALUE

    def disable(self) -> str:
        self._on_value(self.winreg.KEY_SET_VALUE, self.winreg.DeleteValue)
        return RUN_VALUE

    def enabled(self) -> bool:
        return self._on_value(self.winreg.KEY_READ, self.winreg.QueryValueEx)

    def _on_value(self, access: int, action: Callable[[Any, str], Any]) -> bool:
        """action(key, NAME) on the Run key opened with access; False when the key or the value is not there."""
        w = self.winreg
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, RUN_KEY, 0, access) as key:
                action(key, NAME)
        except FileNotFoundError:
            return False
        return True


# -- macOS (launchd) --------------------------------------------------------------------------------

class MacAutostart(FileAutostart):
    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path or Path.home() / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist")

    def content(self, cmd: list[str]) -> bytes:
        import plistlib  # macOS only: the tray and the windows elsewhere do not load it (and its XML parser)

        return plistlib.dumps({"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": cmd, "RunAtLoad": True,
                               "ProcessType": "Interactive"})


def for_platform(platform: str | None = None) -> AutostartBackend:
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsAutostart()
    if platform == "darwin":
        return MacAutostart()
    return XdgAutostart()


def cli(argv: list[str]) -> int:
    """`agent.py autostart on|off|status [--data-dir DIR]`."""
    parser = argparse.ArgumentParser(prog="agent.py autostart", description="Start the agent on login.")
    parser.add_argument("action", choices=("on", "off", "status"))
    parser.add_argument("--data-dir", help="data directory the autostarted agent uses (default: the usual one)")
    args = parser.parse_args(argv)
    backend = for_platform()
    if args.action == "on":
        where = backend.enable(launch_command(args.data_dir))
        print(f"autostart on: {where}")
    elif args.action == "off":
        where = backend.disable()
        print(f"autostart off: {where} removed")
    else:
        print("autostart is on" if backend.enabled() else "autostart is off")
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
