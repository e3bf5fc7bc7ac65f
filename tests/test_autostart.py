"""Start on login: the XDG entry for real (desktop-file-validate, and its Exec really starts the agent);
the Windows registry and macOS LaunchAgent paths with their OS APIs replaced (the only mocks allowed)."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop import autostart
from tests.helpers import ROOT


def exec_argv(desktop_file: Path) -> list[str]:
    """The Exec line as a launcher splits it (quoting per the Desktop Entry spec, %% for a literal %)."""
    line = next(x for x in desktop_file.read_text().splitlines() if x.startswith("Exec="))
    value = re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
                   line.removeprefix("Exec="))  # the general string unescaping comes first
    return [arg.replace("%%", "%") for arg in split_exec(value)]


def split_exec(value: str) -> list[str]:
    """Split an Exec value: spaces separate arguments; inside "..." a backslash escapes " ` $ and \\."""
    args, current, quoted, i, started = [], "", False, 0, False
    while i < len(value):
        c = value[i]
        if quoted and c == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
            current, i = current + value[i + 1], i + 2
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started:
                args.append(current)
            current, started = "", False
        else:
            current, started = current + c, True
        i += 1
    if started:
        args.append(current)
    return args


@pytest.fixture
def xdg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop.autostart", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)


def test_on_writes_a_valid_desktop_entry_that_starts_the_agent_and_off_removes_it(tmp_path: Path):
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("needs desktop-file-validate (desktop-file-utils)")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path), CRM_AGENT_HOME=str(tmp_path / "data"),
               CRM_AGENT__SERVER__PORT="0", CRM_AGENT__AI__LLM_ENABLED="false")
    assert run_cli(env, "status").stdout.strip() == "autostart is off"

    on = run_cli(env, "on")
    assert on.returncode == 0, on.stderr
    entry = tmp_path / "config" / "autostart" / "crm-agent.desktop"
    assert entry.exists()
    check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout
    assert run_cli(env, "status").stdout.strip() == "autostart is on"

    # Launch what the session would launch at login. Without a display the agent runs the service headless,
    # which proves the command starts our agent; it must announce its port.
    argv = exec_argv(entry)
    assert argv[:2] == [sys.executable, str(ROOT / "agent.py")]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "listening on http://" in line or time.monotonic() > deadline:
                break
        assert any("CRM Agent service listening on" in x for x in lines), "".join(lines)
    finally:
        proc.terminate()
        proc.wait(10)

    off = run_cli(env, "off")
    assert off.returncode == 0
    assert not entry.exists()
    assert run_cli(env, "status").stdout.strip() == "autostart is off"


def test_exec_quoting_survives_spaces_dollars_and_percent(xdg_home: Path):
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("needs desktop-file-validate (desktop-file-utils)")
    cmd = ["/opt/CRM Agent/crm-agent", "--data-dir", '/home/a b/50% "$HOME" `x`\\y']
    path = Path(autostart.XdgAutostart().enable(cmd))
    check = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout
    assert exec_argv(path) == cmd


def test_launch_command_points_at_the_frozen_executable_when_frozen(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/crm-agent/crm-agent")
    assert autostart.launch_command() == ["/opt/crm-agent/crm-agent"]
    assert autostart.launch_command("/data") == ["/opt/crm-agent/crm-agent", "--data-dir", "/data"]


class FakeWinreg:
    """The slice of winreg the Windows path uses, over a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    KEY_READ = 1
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[int, str]]] = {}

    class _Key:
        def __init__(self, values: dict) -> None:
            self.values = values

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            return None

    def CreateKeyEx(self, root, sub, reserved, access):
        return self._Key(self.keys.setdefault(f"{root}\\{sub}", {}))

    def OpenKey(self, root, sub, reserved, access):
        if f"{root}\\{sub}" not in self.keys:
            raise FileNotFoundError(sub)
        return self._Key(self.keys[f"{root}\\{sub}"])

    def SetValueEx(self, key, name, reserved, kind, value):
        key.values[name] = (kind, value)

    def QueryValueEx(self, key, name):
        if name not in key.values:
            raise FileNotFoundError(name)
        return key.values[name][1], key.values[name][0]

    def DeleteValue(self, key, name):
        if name not in key.values:
            raise FileNotFoundError(name)
        del key.values[name]


def test_windows_run_key():
    reg = FakeWinreg()
    backend = autostart.WindowsAutostart(reg)
    assert not backend.enabled()
    backend.enable([r"C:\Program Files\CRM Agent\crm-agent.exe", "--data-dir", r"C:\data"])
    run = reg.keys[r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"]
    assert run["CRM Agent"] == (reg.REG_SZ, r'"C:\Program Files\CRM Agent\crm-agent.exe" --data-dir C:\data')
    assert backend.enabled()
    backend.disable()
    assert not backend.enabled()
    backend.disable()  # already off: no error


def test_macos_launch_agent(tmp_path: Path):
    path = tmp_path / "LaunchAgents" / "com.crm-agent.agent.plist"
    backend = autostart.MacAutostart(path)
    backend.enable(["/Applications/CRM Agent.app/Contents/MacOS/crm-agent"])
    plist = plistlib.loads(path.read_bytes())
    assert plist == {"Label": "com.crm-agent.agent", "RunAtLoad": True, "ProcessType": "Interactive",
                     "ProgramArguments": ["/Applications/CRM Agent.app/Contents/MacOS/crm-agent"]}
    assert backend.enabled()
    backend.disable()
    assert not backend.enabled()


def test_platform_dispatch():
    assert isinstance(autostart.for_platform("linux"), autostart.XdgAutostart)
    assert isinstance(autostart.for_platform("darwin"), autostart.MacAutostart)
