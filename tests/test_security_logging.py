"""Issue 13, log forging: no value a client sends can start a line of its own in agent.log (or system_logs),
with or without a login; and a password typed into the username field is never logged."""

from __future__ import annotations

import logging
import re
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import logging_setup
from core.logging_setup import render_message, setup_logging
from tests.helpers import start_service, wait_until

FORGED = "2026-12-07 02:05:00,000 CRITICAL crm_agent.auth: admin password reset by attacker"
LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("logforge") / "agent")
    yield running
    running.stop()


def raw_get(svc, target: str, host: str | None = None) -> bytes:
    """Send the request line exactly as written (no client library re-quoting it)."""
    with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{svc.port}'}\r\n"
                     "Connection: close\r\n\r\n".encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def log_lines(svc) -> list[str]:
    return (svc.data_dir / "logs" / "agent.log").read_text(encoding="utf-8").splitlines()


def test_a_path_cannot_forge_a_log_line_without_a_login(svc):
    for separator in ("%0a", "%0d%0a", "%0d", "%e2%80%a8", "%c2%85", "%0b", "%0c"):
        target = f"/x{separator}{FORGED.replace(' ', '%20')}"
        assert raw_get(svc, target).startswith(b"HTTP/1.1 404")
        assert raw_get(svc, target, host="evil.example").startswith(b"HTTP/1.1 403")  # refused, still logged

    def logged():
        return [line for line in log_lines(svc) if "admin password reset by attacker" in line]

    lines = wait_until(lambda: len(logged()) >= 14 and logged(), timeout=10, message="the 14 request lines")
    for line in lines:
        assert LINE_START.match(line) and " INFO crm_agent.http: GET /x" in line, line
    assert any("/x\\n2026-12-07" in line for line in lines) and any("/x\\r\\n2026" in line for line in lines)
    # Python's own line splitting (U+2028, NEL, VT, FF included) finds no line starting with the forgery.
    text = svc.log_text()
    assert not [line for line in text.splitlines() if line.startswith("2026-12-07 02:05:00,000 CRITICAL")]


def test_a_password_typed_as_username_is_not_logged_and_known_names_are(svc):
    secret_like = "Tr0ub4dor&3-correct-horse"
    r = svc.post("/api/auth/login", token=None, json={"username": secret_like, "password": "whatever-1"})
    assert r.status_code == 401
    r = svc.post("/api/auth/login", token=None, json={"username": "admin", "password": "wrong-password-1"})
    assert r.status_code == 401
    wait_until(lambda: any("failed login for user 'admin'" in line for line in log_lines(svc)), timeout=10,
               message="the known user's failed login")
    text = "\n".join(log_lines(svc))
    assert secret_like not in text
    assert f"failed login for an unknown user ({len(secret_like)} characters)" in text


def test_every_logged_argument_is_escaped_in_the_file_and_in_system_logs(tmp_path):
    log_file = tmp_path / "agent.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", log_file, 1_000_000, 1, to_stderr=False)
        hostile = "ext\nFAKE\r\x00\x1b[31m\x85\u2028\u2029end"
        logging.getLogger("crm_agent.pairing").warning("paired extension %s (%r)", hostile, hostile)
        logging.getLogger("crm_agent.pairing").warning(f"f-string {hostile}")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    text = log_file.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 2, text
    assert "ext\\nFAKE\\r\\x00\\x1b[31m\\x85\\u2028\\u2029end" in text
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "name %s", (hostile,), None)
    assert "\n" not in render_message(record) and "\u2028" not in render_message(record)


def _scrub_every_line(text: str) -> str:
    """scrub as it was before its shortcut for lines without any secret word: the three substitutions always."""
    for pattern in logging_setup._SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


@given(st.lists(st.sampled_from(["Bearer ", "bEaReR\t", "token=", "TOKEN: ", "password=", "Secret='", "access_token:",
                                 "eyJhbGciOi.eyJzdWIiOi.sig", "EYJabcdef.EYJabcdef.x", "ſecret=", "\u212aey", "abc.DEF",
                                 " ", "=", "/api/messages/capture 201 3.4ms", "é", "\n"]), max_size=10),
       st.text(max_size=20))
@settings(max_examples=500, deadline=None)
def test_scrub_shortcut_redacts_exactly_what_the_substitutions_do(parts, noise):
    text = "".join(parts) + noise
    assert logging_setup.scrub(text) == _scrub_every_line(text)
