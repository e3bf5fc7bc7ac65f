"""Start the agent's own child processes the same way from source and from the PyInstaller build.

Every child that runs agent.py (service, workers, windows, the headless fallback) is started with
agent_command(...) as argv and child_env() as its environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
