"""The session-end secret check itself (tests/secret_leaks.py): it finds a planted leak and ignores short strings.

Its directories are made outside pytest's basetemp on purpose: the planted leak must not fail the real check."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.secret_leaks import find_leaks

TOKEN = "ab" * 32
ADMIN = "Zq3-x_Y7aBcDeF12"


@pytest.fixture
def run_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="secret-leaks-") as name:
        root = Path(name)
        (root / "agent" / "logs").mkdir(parents=True)
        (root / "agent" / "local_token").write_text(TOKEN + "\n")
        (root / "agent" / "admin_password.txt").write_text(f"username: admin\npassword: {ADMIN}\n")
        (root / "agent" / "logs" / "agent.log").write_text("INFO listening on http://127.0.0.1:8080\n")
        yield root


def test_a_clean_run_has_no_leak(run_dir):
    assert find_leaks(run_dir, [("access token", "x" * 40)]) == []


@pytest.mark.parametrize("log_name", ["logs/agent.log", "logs/agent.log.2", "tray-process.txt", "logs/ui.log"])
def test_a_secret_file_in_any_log_is_found_by_kind(run_dir, log_name):
    log = run_dir / "agent" / log_name
    log.write_text(f"DEBUG token={TOKEN}\nINFO first run: {ADMIN}\n")
    assert sorted(kind for _, kind in find_leaks(run_dir, [])) == ["initial admin password", "local token"]


def test_a_registered_secret_is_found_and_the_secret_files_are_not_logs(run_dir):
    (run_dir / "agent" / "logs" / "agent.log").write_text("GET /ws?token=eyJhbGciOi.payload.signature 101\n")
    leaks = find_leaks(run_dir, [("access token", "eyJhbGciOi.payload.signature")])
    assert [(path.name, kind) for path, kind in leaks] == [("agent.log", "access token")]


def test_short_values_are_not_secrets(run_dir):
    (run_dir / "agent" / "logs" / "agent.log").write_text("failed login for user 'admin'; password wrong\n")
    assert find_leaks(run_dir, [("password", "admin"), ("password", "password"), ("password", "")]) == []
