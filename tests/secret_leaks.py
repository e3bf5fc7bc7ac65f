"""The session-end check that nothing secret reached a log (conftest.py pytest_sessionfinish).

It collects every secret the test run created: the contents of each secret file under pytest's basetemp (local
token, JWT key, hub token, backup key, the first admin's password) and what tests registered through
tests/helpers.py register_secret (login and pairing tokens, passwords sent to the service). Then it greps every
log file under basetemp for each. A finding names the file and the kind of secret, never the secret itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# Shorter values could match by chance ("password", a short test password inside an unrelated line); every
# secret the agent makes is far longer (hex of 32 bytes, token_urlsafe(12) = 16 characters for the admin).
MIN_SECRET_LENGTH = 12
SECRET_FILES = {"local_token": "local token", "jwt_secret": "JWT signing key", "hub_token": "hub token",
                "backup.key": "backup key", "admin_password.txt": "initial admin password"}
ADMIN_PASSWORD = re.compile(r"^password: (\S+)$", re.MULTILINE)


def secrets_in_files(root: Path) -> list[tuple[str, str]]:
    """(kind, value) of every secret file under root."""
    found = []
    for name, kind in SECRET_FILES.items():
        for path in root.rglob(name):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if name == "admin_password.txt":
                found.extend((kind, value) for value in ADMIN_PASSWORD.findall(text))
            else:
                found.append((kind, text.strip()))
    return found


def is_log_file(path: Path) -> bool:
    """agent.log and its rotations, tray.log, ui.log, any *.log, a child's captured output (*-process.txt),
    anything under a logs/ directory, and the notifications the tests' fake daemon recorded."""
    name = path.name
    return (name.endswith((".log", "-process.txt")) or ".log." in name or name == "notify-calls.txt"
            or path.parent.name == "logs")


def log_files(root: Path) -> Iterable[Path]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and is_log_file(path) and path.name not in SECRET_FILES:
            yield path


def find_leaks(root: Path, registered: Iterable[tuple[str, str]]) -> list[tuple[Path, str]]:
    """(log file, kind of secret) for every secret found in a log file under root."""
    secrets: dict[bytes, str] = {}
    for kind, value in [*secrets_in_files(root), *registered]:
        if value and len(value) >= MIN_SECRET_LENGTH:
            secrets.setdefault(value.encode("utf-8"), kind)
    leaks = []
    for path in log_files(root):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        leaks.extend((path, kind) for value, kind in secrets.items() if value in content)
    return leaks
