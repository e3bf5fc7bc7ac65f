"""Start the agent's own child processes the same way from source and from the PyInstaller build.

Every child that runs agent.py (service, workers, windows, the desktop agent started from a window, the
headless fallback) is started with agent_command(...) as argv and child_env() as its environment.
running_service() finds the service a data directory's service.json names, if it is really ours and alive.
Supervising a child (readiness, stop then kill, restart back-off) is core/supervisor.py's ChildProcess.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.discovery import read_service_info
from core.paths import DataDir

if TYPE_CHECKING:
    import psutil

log = logging.getLogger(__name__)

AGENT_SCRIPT = Path(__file__).resolve().parent.parent / "agent.py"

# PyInstaller (>= 6.9): a child started from the one-file binary shares the directory its parent unpacked
# into, unless this is set, in which case it unpacks its own copy (~1.3 s here) like a fresh start.
RESET_ENVIRONMENT = "PYINSTALLER_RESET_ENVIRONMENT"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def agent_command(*args: str) -> list[str]:
    """argv that runs `agent.py <args>`: the frozen executable itself, or this Python with agent.py."""
    if is_frozen():
        return [sys.executable, *args]
    return [sys.executable, str(AGENT_SCRIPT), *args]


def child_env(base: dict[str, str] | None = None, *, independent: bool = False) -> dict[str, str]:
    """Environment for a child started with agent_command (a copy of os.environ unless base is given).

    Frozen on Linux, the bundle's library directory goes back in front of LD_LIBRARY_PATH: the runtime hook
    (packaging/pyi_rth_library_path.py) takes it off os.environ so that other programs we start use their own
    libraries, but our children must load the bundled ones, as their parent does. independent=True is for a
    child that may outlive this process (started detached): the one-file bootloader deletes its unpacked
    files when this process exits, so such a child unpacks its own copy; the others share (faster)."""
    env = dict(os.environ if base is None else base)
    if not is_frozen():
        return env
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and sys.platform.startswith("linux"):
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (bundle, env.get("LD_LIBRARY_PATH", "")) if p)
    if independent:
        env[RESET_ENVIRONMENT] = "1"
    return env


def is_agent_service(cmdline: Sequence[str]) -> bool:
    """Does this command line look like our `agent.py serve` (from source or the frozen build)?"""
    if "serve" not in cmdline:
        return False
    frozen_name = Path(sys.executable).name if getattr(sys, "frozen", False) else None
    return any(Path(arg).name == "agent.py" or (frozen_name and Path(arg).name == frozen_name) for arg in cmdline)


def running_service(data_dir: DataDir) -> psutil.Process | None:
    """The psutil.Process of our `agent.py serve` that service.json names, if it still runs; else None (no
    service.json, the process is gone, the pid was reused by another program, or it is this process).

    The tray stops such a service before it starts its own (a previous tray left it behind); the windows
    only name it to the user, since they own no process."""
    info = read_service_info(data_dir)
    if info is None or info.pid == os.getpid():
        return None
    import psutil  # lazily, for start-up speed (~25 ms): the tray and the windows need it only here

    try:
        process = psutil.Process(info.pid)
        cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if not is_agent_service(cmdline):
        log.info("service.json names pid %d, which is not our service now (pid reused): ignoring it", info.pid)
        return None
    return process
