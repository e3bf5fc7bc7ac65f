"""Distribution: children re-launch the frozen binary, `agent.py init`, install.sh / uninstall.sh.

The one-file binary itself is checked by the release smoke test (scripts/release-smoke.sh, a CI step).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core import children
from desktop import autostart
from tests.helpers import ROOT

RUNTIME_PACKAGES = ("core", "desktop", "cli", "runtime", "api", "crm", "ai", "storage", "tray", "windows")


def test_agent_command_relaunches_the_frozen_binary_itself(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/crm/CRM-Agent")
    assert children.agent_command("ai-worker", "--data-dir", "/d") == ["/opt/crm/CRM-Agent", "ai-worker", "--data-dir",
                                                                         "/d"]
    assert autostart.launch_command("/d") == ["/opt/crm/CRM-Agent", "--data-dir", "/d"]


def test_agent_command_from_source_runs_agent_py_with_this_python(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert children.agent_command("serve") == [sys.executable, str(ROOT / "agent.py"), "serve"]


def _uses_of_sys_executable(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "executable"
            and isinstance(node.value, ast.Name) and node.value.id == "sys"]


def test_only_core_children_builds_the_command_of_a_child():
    """Every child (service, workers, windows, autostart) must come from core.children.agent_command, the one
    place that knows the frozen binary re-launches itself; `sys.executable agent.py` elsewhere breaks it."""
    allowed = {ROOT / "core" / "children.py"}  # also compares a running process's name with ours (is_agent_service)
    offenders = {}
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else ():
            if path not in allowed and _uses_of_sys_executable(path):
                offenders[str(path.relative_to(ROOT))] = _uses_of_sys_executable(path)
    assert not offenders, f"start children through core.children.agent_command: {offenders}"
    supervisor = (ROOT / "tray" / "supervisor.py").read_text(encoding="utf-8")
    assert "ChildProcess(" in supervisor and "agent_command(" in supervisor


def test_frozen_autostart_entry_names_an_icon_that_outlives_the_binary(tmp_path, monkeypatch):
    """The frozen binary's assets live in a temporary directory deleted at exit: the entry must not point there."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    entry = autostart.desktop_entry(["/opt/crm/CRM-Agent"])
    icon = tmp_path / "share" / "icons" / "crm-agent.png"
    assert f"Icon={icon}\n" in entry
    assert icon.read_bytes() == autostart.ICON.read_bytes()
    monkeypatch.delattr(sys, "frozen")
    assert f"Icon={autostart.ICON}\n" in autostart.desktop_entry(["/opt/crm/CRM-Agent"])


def _agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_init_creates_the_data_directory_once_and_keeps_what_is_there(tmp_path):
    data = tmp_path / "data"
    first = _agent("init", "--data-dir", str(data))
    assert first.returncode == 0, first.stderr
    assert "written" in first.stdout
    config = json.loads((data / "config.json").read_text())
    assert config == {"security": {"extension_origins": []}}
    assert (data / "config.json").stat().st_mode & 0o777 == 0o600
    assert {p.name for p in data.iterdir()} >= {"logs", "backups", "models", "crm_agent.db", "config.json"}
    with sqlite3.connect(data / "crm_agent.db") as db:
        version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert f"schema version {version}" in first.stdout

    (data / "config.json").write_text('{"server": {"port": 9123}}')
    second = _agent("init", "--data-dir", str(data))
    assert second.returncode == 0, second.stderr
    assert "kept" in second.stdout
    assert json.loads((data / "config.json").read_text()) == {"server": {"port": 9123}}


def test_init_refuses_a_broken_config_naming_the_key(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text('{"server": {"port": "eighty"}}')
    out = _agent("init", "--data-dir", str(data))
    assert out.returncode == 1
    assert "server.port" in out.stderr


# -- install.sh / uninstall.sh --------------------------------------------------------------------------


def _tree_digest(root: Path) -> dict[str, str]:
    """Content of every file under root (symlinks by target), to prove a second install changes nothing."""
    digest = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if "__pycache__" in rel or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            digest[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            digest[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One real install into a private HOME (a virtual environment with every pinned requirement; pip takes
    the wheels from the machine's cache, so this costs about a minute, not a llama.cpp build)."""
    home = tmp_path_factory.mktemp("home")
    pip_cache = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True,
                               check=True).stdout.strip()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PIP_CACHE_DIR": pip_cache,
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    first = subprocess.run(["bash", str(ROOT / "install.sh"), "--yes"], env=env, capture_output=True, text=True,
                           timeout=1200, stdin=subprocess.DEVNULL)
    assert first.returncode == 0, first.stdout + first.stderr
    return home, env, first


def test_install_creates_program_command_data_and_autostart(installed):
    home, env, first = installed
    prefix = home / ".local" / "lib" / "crm-agent"
    launcher = home / ".local" / "bin" / "crm-agent"
    data = home / ".local" / "share" / "crm-agent"
    assert (prefix / ".venv" / "bin" / "python").exists() and (prefix / "agent.py").exists()
    assert not (prefix / "tests").exists() and not (prefix / "bench").exists()
    assert (data / "crm_agent.db").exists() and (data / "config.json").exists()
    assert "crm-agent serve" in first.stdout and "is not on your PATH" in first.stdout
    entry = home / ".config" / "autostart" / "crm-agent.desktop"
    assert f"Exec={prefix}/.venv/bin/python {prefix}/agent.py" in entry.read_text()
    # The command works and sees the data directory install.sh initialised.
    check = subprocess.run([str(launcher), "config", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and f"{data}/config.json: ok" in check.stdout, check.stderr
    listing = subprocess.run([str(launcher), "user", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr


def test_second_install_changes_nothing(installed):
    home, env, _ = installed
    before = _tree_digest(home)
    again = subprocess.run(["bash", str(ROOT / "install.sh"), "--yes"], env=env, capture_output=True, text=True,
                           timeout=600, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "kept" in again.stdout
    after = _tree_digest(home)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # SQLite may rewrite its -shm/-wal on open; everything else must be byte for byte the same.
    assert {k for k in changed if not k.endswith(("-shm", "-wal"))} == set()


def test_no_autostart_without_a_terminal_or_flag(tmp_path, installed):
    """Non-interactive without --yes/--autostart: the question is not asked and nothing is turned on."""
    home, env, _ = installed
    other_config = tmp_path / "config"
    run = subprocess.run(["bash", str(home / ".local" / "lib" / "crm-agent" / "install.sh")],
                         env={**env, "XDG_CONFIG_HOME": str(other_config)}, capture_output=True, text=True,
                         timeout=600, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "not enabled" in run.stdout
    assert not (other_config / "autostart" / "crm-agent.desktop").exists()


def test_uninstall_keeps_the_data_and_purge_removes_it(installed):
    home, env, _ = installed
    prefix = home / ".local" / "lib" / "crm-agent"
    data = home / ".local" / "share" / "crm-agent"
    uninstall = subprocess.run(["bash", str(prefix / "uninstall.sh")], env=env, capture_output=True, text=True,
                               timeout=120, stdin=subprocess.DEVNULL)
    assert uninstall.returncode == 0, uninstall.stdout + uninstall.stderr
    assert not prefix.exists() and not (home / ".local" / "bin" / "crm-agent").exists()
    assert not (home / ".config" / "autostart" / "crm-agent.desktop").exists()
    assert (data / "crm_agent.db").exists() and f"data kept: {data}" in uninstall.stdout
    # Later, from the source tree: nothing left to remove; --purge without a terminal or --yes keeps the data.
    unanswered = subprocess.run(["bash", str(ROOT / "uninstall.sh"), "--purge"], env=env, capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert unanswered.returncode == 0, unanswered.stdout + unanswered.stderr
    assert "already removed" in unanswered.stdout and (data / "crm_agent.db").exists()
    purge = subprocess.run(["bash", str(ROOT / "uninstall.sh"), "--purge", "--yes"], env=env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert f"removed {data}" in purge.stdout and not data.exists()
    assert home.exists() and (home / ".local" / "share").exists()


def test_children_of_the_frozen_binary_get_the_bundle_libraries_back(monkeypatch):
    """The runtime hook takes the bundle off LD_LIBRARY_PATH for other programs; our own children need it."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", "/tmp/_MEI123", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert children.child_env({"PATH": "/usr/bin"}) == {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/tmp/_MEI123"}
    assert children.child_env({"LD_LIBRARY_PATH": "/opt/lib"})["LD_LIBRARY_PATH"] == "/tmp/_MEI123:/opt/lib"
    # A child that may outlive its parent unpacks its own copy.
    assert children.child_env({}, independent=True)["PYINSTALLER_RESET_ENVIRONMENT"] == "1"
    monkeypatch.delattr(sys, "frozen")
    assert children.child_env({"PATH": "/usr/bin"}, independent=True) == {"PATH": "/usr/bin"}


# Modules that start agent.py children: with agent_command (launch_command for the desktop agent), or (core's
# ChildProcess, which supervises the service and the workers) with a command built by agent_command elsewhere.
INJECTED_COMMAND_STARTERS = ("core/supervisor.py",)
SUPERVISED_CHILD_OWNERS = ("tray/supervisor.py", "ai/worker_client.py", "ai/rules_client.py")


def test_every_module_that_starts_an_agent_child_gives_it_child_env():
    """(The windows' Start button starts the detached desktop agent: windows/service_link.py passes
    independent=True.)"""
    starts_process = re.compile(r"subprocess\.(Popen|call|run)\(|os\.exec")
    starters = []
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else ():
            rel = str(path.relative_to(ROOT))
            text = path.read_text(encoding="utf-8")
            uses_agent_command = ("agent_command(" in text or "launch_command(" in text
                                  or rel in INJECTED_COMMAND_STARTERS)
            if rel != "core/children.py" and starts_process.search(text) and uses_agent_command:
                starters.append(rel)
    assert {"core/supervisor.py", "tray/app.py", "windows/service_link.py"} <= set(starters)
    missing = [rel for rel in starters if "child_env(" not in (ROOT / rel).read_text()]
    assert not missing, f"pass env=child_env() when starting agent.py children: {missing}"


def test_the_service_and_the_workers_are_started_only_through_child_process():
    """One supervisor (core.supervisor.ChildProcess) starts, stops and restarts the service and both workers."""
    for rel in SUPERVISED_CHILD_OWNERS:
        text = (ROOT / rel).read_text(encoding="utf-8")
        assert "ChildProcess(" in text, rel
        # Neither a Popen of their own nor signals sent to one (ChildProcess's own stop() and kill() are fine).
        assert not re.search(r"subprocess\.(Popen|call|run)\(|\bproc\.(terminate|kill|send_signal)\(|os\.kill\(",
                             text), rel
