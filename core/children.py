"""Start the agent's own child processes the same way from source and from the PyInstaller build."""

from __future__ import annotations

import sys
from pathlib import Path

AGENT_SCRIPT = Path(__file__).resolve().parent.parent / "agent.py"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def agent_command(*args: str) -> list[str]:
    """argv that runs `agent.py <args>`: the frozen executable itself, or this Python with agent.py."""
    if is_frozen():
        return [sys.executable, *args]
    return [sys.executable, str(AGENT_SCRIPT), *args]
