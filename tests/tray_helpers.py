"""A private desktop for the tray tests: Xvfb on a free display, a dbus-launch session, dunst receiving
notifications, dbus-monitor recording the Notify calls, and trayer as the tray host (started on demand)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import ROOT, wait_until, write_config
from tests.ui_helpers import start_xvfb

NEEDED = ("Xvfb", "dbus-launch", "dbus-monitor", "dunst", "trayer", "notify-send", "xdotool")
STRING = re.compile(r'^\s*string "(.*?)"$', re.S | re.M)


def missing_binaries() -> list[str]:
    return [name for name in NEEDED if shutil.which(name) is None]


def require_desktop_binaries() -> None:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (scripts/system-packages.sh --test installs them)")


def _stop(proc: subprocess.Popen | None, timeout: float = 5) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Desktop:
    display: str
    env: dict[str, str]
    workdir: Path
    xvfb: subprocess.Popen
    dbus_pid: int
    monitor: subprocess.Popen
    monitor_log: Path
    dunst: subprocess.Popen
    trayer: subprocess.Popen | None = None
    others: list[subprocess.Popen] = field(default_factory=list)

    # -- tray host ---------------------------------------------------------------------------------

    def start_trayer(self) -> None:
        self.stop_trayer()
        self.trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "left", "--widthtype", "pixel", "--width", "160",
             "--height", "32", "--SetDockType", "false", "--transparent", "false"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.tray_selection_owner() != 0, timeout=10, message="trayer to own the tray selection")

    def stop_trayer(self) -> None:
        _stop(self.trayer)
        self.trayer = None

    def xlib(self):
        import Xlib.display

        return Xlib.display.Display(self.display)

    def tray_selection_owner(self) -> int:
        d = self.xlib()
        try:
            owner = d.get_selection_owner(d.intern_atom("_NET_SYSTEM_TRAY_S0"))
            return 0 if owner == 0 or not owner else owner.id
        finally:
            d.close()

    def icon_embedding(self) -> tuple[int, int] | None:
        """(icon window, trayer toplevel) when the tray icon window is a descendant of trayer's window."""
        d = self.xlib()
        try:
            for top in d.screen().root.query_tree().children:
                cls = _wm_class(top)
                if not cls or cls[1].lower() != "trayer":  # ("panel", "trayer") / ("trayer", "Trayer")
                    continue
                for window in _descendants(top):
                    cls = _wm_class(window)
                    if cls and cls[0].startswith("crm-agentSystemTrayIcon"):
                        return window.id, top.id
            return None
        finally:
            d.close()

    def screenshot(self, path: Path, crop: str = "200x40+0+0") -> Path:
        subprocess.run(["import", "-display", self.display, "-window", "root", "-crop", crop, str(path)],
                       env=self.env, check=True, timeout=20)
        return path

    # -- notifications -----------------------------------------------------------------------------

    def notifications(self) -> list[dict[str, str]]:
        """The org.freedesktop.Notifications.Notify calls recorded so far (app, icon, summary, body)."""
        text = self.monitor_log.read_text(errors="replace")
        calls = []
        for block in text.split("method call ")[1:]:
            if "member=Notify" not in block.split("\n", 1)[0]:
                continue
            strings = STRING.findall(block)
            if len(strings) >= 4:
                calls.append({"app": strings[0], "icon": strings[1], "summary": strings[2], "body": strings[3]})
        return calls

    def close(self) -> None:
        self.stop_trayer()
        for proc in [*self.others, self.dunst, self.monitor]:
            _stop(proc)
        try:
            os.kill(self.dbus_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _stop(self.xvfb)


def _wm_class(window) -> tuple[str, str] | None:
    try:
        return window.get_wm_class()
    except Exception:
        return None


def _descendants(window):
    try:
        children = window.query_tree().children
    except Exception:
        return
    for child in children:
        yield child
        yield from _descendants(child)


def start_desktop(workdir: Path) -> Desktop:
    require_desktop_binaries()
    workdir.mkdir(parents=True, exist_ok=True)
    xvfb_server = start_xvfb("640x480x24")
    xvfb, display = xvfb_server.process, xvfb_server.display
    env = {**os.environ, "DISPLAY": display, "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir / "config"),
           "XDG_RUNTIME_DIR": str(workdir / "run"), "PYSTRAY_BACKEND": "xorg"}
    (workdir / "run").mkdir(mode=0o700, exist_ok=True)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    out = subprocess.run(["dbus-launch", "--sh-syntax"], env=env, capture_output=True, text=True, check=True,
                         timeout=20).stdout
    env["DBUS_SESSION_BUS_ADDRESS"] = re.search(r"DBUS_SESSION_BUS_ADDRESS='([^']+)'", out).group(1)
    dbus_pid = int(re.search(r"DBUS_SESSION_BUS_PID=(\d+)", out).group(1))
    monitor_log = workdir / "notify-calls.txt"
    log_file = monitor_log.open("w")
    match_rule = "interface='org.freedesktop.Notifications',member='Notify'"
    match_rule = "interface='org.freedesktop.Notifications',member='Notify'"
    monitor = subprocess.Popen(["dbus-monitor", "--session", match_rule], env=env, stdout=log_file,
                               stderr=subprocess.STDOUT)
    log_file.close()
    dunst = subprocess.Popen(["dunst"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    desktop = Desktop(display, env, workdir, xvfb, dbus_pid, monitor, monitor_log, dunst)
    try:
        wait_until(lambda: "NameAcquired" in monitor_log.read_text(errors="replace"), timeout=10,
                   message="dbus-monitor to be ready")
        wait_until(lambda: _name_has_owner(env, "org.freedesktop.Notifications"), timeout=10,
                   message="dunst on the session bus")
    except BaseException:
        desktop.close()
        raise
    return desktop


def _name_has_owner(env: dict[str, str], name: str) -> bool:
    out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
                         env=env, capture_output=True, text=True, timeout=10).stdout
    return "boolean true" in out


@dataclass
class RunningTray:
    process: subprocess.Popen
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def service_info(self) -> dict | None:
        try:
            return json.loads((self.data_dir / "service.json").read_text())
        except (OSError, ValueError):
            return None

    def healthy_service(self) -> dict | None:
        """service.json of a service that answers /api/health, else None."""
        import requests

        info = self.service_info()
        if not info:
            return None
        try:
            ok = requests.get(info["url"] + "/api/health", timeout=1).status_code == 200
        except requests.RequestException:
            return None
        return info if ok else None

    def wait_healthy(self, timeout: float = 30) -> dict:
        """service.json of the supervised service once it answers /api/health. On a timeout the error carries
        the tails of the tray's output and of the service's log: a CI failure must say why by itself."""
        try:
            return wait_for(self.healthy_service, timeout=timeout, message="the supervised service")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnosis()}") from None

    def diagnosis(self, lines: int = 60) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)  # the tray dumps its threads' stacks to its output
            time.sleep(1)
        parts = [f"tray process: {'running' if self.process.poll() is None else f'exited {self.process.returncode}'}",
                 f"service.json: {self.service_info()}"]
        for name, path in (("tray output", self.log_path), ("service log", self.data_dir / "logs" / "agent.log")):
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError as exc:
                tail = [f"(unreadable: {exc})"]
            parts.append(f"--- {name} ({path}), last {lines} lines:\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGUSR1)  # its threads' stacks into its output, then kill
                time.sleep(1)
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_tray(desktop: Desktop, data_dir: Path, config: dict | None = None, checkout: Path = ROOT) -> RunningTray:
    """`python -m tray` (what `python agent.py` runs) on the test desktop, the service on a free port. checkout:
    another source tree to run (a benchmark's baseline)."""
    config = {section: dict(values) for section, values in (config or {}).items()}
    config.setdefault("ai", {}).setdefault("llm_enabled", False)
    write_config(data_dir, config)
    log_path = data_dir / "tray-process.txt"
    with log_path.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "tray", "--data-dir", str(data_dir), "--port", "0"],
                                   cwd=checkout, env=desktop.env, stdout=out, stderr=subprocess.STDOUT)
    desktop.others.append(process)
    return RunningTray(process, data_dir, log_path)


def wait_for(predicate, timeout: float = 10.0, message: str = "condition"):
    return wait_until(predicate, timeout=timeout, interval=0.05, message=message)


def elapsed(start: float) -> float:
    return time.monotonic() - start
