"""Small secret files kept 0600 in the data dir: the local token, the JWT key, the first admin password."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private_file(path: Path, content: str) -> None:
    """Create or replace a file readable by the owner only, atomically (never a world-readable moment)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the secret stored at path, generating nbytes of randomness (hex) on first use."""
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if len(value) >= nbytes * 2:
            return value
    value = secrets.token_hex(nbytes)
    write_private_file(path, value + "\n")
    return value


def replace_secret(path: Path, nbytes: int = 32) -> str:
    """Write a fresh secret of nbytes (hex) in place of the one at path, atomically and 0600; return it."""
    value = secrets.token_hex(nbytes)
    write_private_file(path, value + "\n")
    return value


def read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
