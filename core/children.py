"""Start the agent's own child processes the same way from source and from the PyInstaller build."""

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


def independent_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child that may outlive this process (started detached, e.g. a service started from a
    window). Frozen, the one-file bootloader deletes its unpacked files when this process exits, so such a child
    must unpack its own; children this process waits for can share (the default, and faster)."""
    env = dict(os.environ if base is None else base)
    if is_frozen():
        env[RESET_ENVIRONMENT] = "1"
    return env
