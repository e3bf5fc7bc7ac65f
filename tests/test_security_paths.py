"""Issue 13, file paths through the settings API: a file the service writes stays inside its data directory,
a file it reads is a regular file of its kind, and a control character in a path is a clear config error
(config check, the API and start-up alike), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, start_service, write_config

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def agent(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args], text=True, capture_output=True,
                          cwd=ROOT, timeout=60)


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    running = start_service(tmp_path_factory.mktemp("paths") / "agent")
    yield running
    running.stop()


def put(svc, changes: dict) -> dict:
    r = svc.request("PUT", "/api/system/config", json={"changes": changes})
    return {"status": r.status_code, **r.json()}


def refused(svc, key: str, value: str) -> str:
    before = (svc.data_dir / "config.json").read_text()
    body = put(svc, {key: value})
    assert body["status"] == 422, body
    assert body["error"]["field"] == key and body["error"]["message"].startswith(f"{key}: "), body
    assert (svc.data_dir / "config.json").read_text() == before  # nothing written
    return body["error"]["message"]


def test_files_the_service_writes_must_stay_inside_the_data_directory(svc, tmp_path):
    outside = tmp_path / "victim.txt"
    outside.write_text("precious\n")
    for key in ("logging.file", "database.path"):
        assert "inside the data directory" in refused(svc, key, str(outside))
        assert "inside the data directory" in refused(svc, key, str(tmp_path / "new.file"))
        assert "'..'" in refused(svc, key, str(svc.data_dir / "logs" / ".." / ".." / "x.log"))
        assert "absolute" in refused(svc, key, "logs/relative.log")
    # A symlink inside the data directory that points out of it is followed, and refused.
    link = svc.data_dir / "logs" / "escape.log"
    link.symlink_to(outside)
    assert "inside the data directory" in refused(svc, "logging.file", str(link))
    (svc.data_dir / "logs" / "dangling.log").symlink_to(tmp_path / "not-yet")
    assert "inside the data directory" in refused(svc, "logging.file", str(svc.data_dir / "logs" / "dangling.log"))
    # The service's own other files are not a log or a database.
    for key, name in (("logging.file", "jwt_secret"), ("logging.file", "crm_agent.db"),
                      ("database.path", "local_token"), ("logging.file", "backups/x.log"),
                      ("database.path", "config.json")):
        assert "something else" in refused(svc, key, str(svc.data_dir / name))
    assert "sqlite: URL" in refused(svc, "database.path", f"sqlite:///{outside}")
    assert outside.read_text() == "precious\n"
    # Inside the data directory is fine.
    ok = put(svc, {"logging.file": str(svc.data_dir / "logs" / "service.log"),
                   "database.path": str(svc.data_dir / "other.db")})
    assert ok["status"] == 200, ok
    assert set(ok["restart_required"]) == {"logging.file", "database.path"}
    assert put(svc, {"logging.file": "", "database.path": ""})["status"] == 200


def test_files_the_service_reads_must_be_regular_files_of_their_kind(svc, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for key in ("sync.ca_file", "server.tls_cert_file", "server.tls_key_file", "ai.model_path"):
        assert "regular file" in refused(svc, key, str(tmp_path))  # a directory
        assert "regular file" in refused(svc, key, str(fifo))
        assert "regular file" in refused(svc, key, "/dev/zero")
        assert "no such file" in refused(svc, key, str(tmp_path / "missing"))
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    assert "not a PEM file" in refused(svc, "sync.ca_file", str(not_pem))
    assert "not a GGUF model" in refused(svc, "ai.model_path", str(not_pem))
    # Files the user keeps anywhere (picked in the settings window's file dialog) are fine to read.
    ca, model = tmp_path / "ca.pem", tmp_path / "model.gguf"
    ca.write_text(PEM)
    model.write_bytes(b"GGUF" + bytes(64))
    ok = put(svc, {"sync.ca_file": str(ca), "ai.model_path": str(model)})
    assert ok["status"] == 200, ok
    assert put(svc, {"sync.ca_file": "", "ai.model_path": ""})["status"] == 200


@pytest.mark.parametrize("value", ["logs/a\x00b.log", "logs/a\nb.log", "a\u2028b", "a\x85b"])
def test_a_control_character_in_a_path_is_refused_by_the_api(svc, value):
    assert "control characters" in refused(svc, "logging.file", value)


def test_a_nul_byte_in_a_path_is_a_one_line_config_error_for_check_and_start_up(tmp_path):
    data_dir = tmp_path / "agent"
    write_config(data_dir, {"logging": {"file": str(data_dir / "a\x00b.log")}})
    check = agent("config", "check", "--data-dir", str(data_dir))
    assert check.returncode == 1 and "logging.file: must not contain control characters" in check.stdout + check.stderr
    serve = agent("serve", "--port", "0", "--data-dir", str(data_dir))
    assert serve.returncode == 1, serve.stdout + serve.stderr
    assert "Traceback" not in serve.stderr and "logging.file: must not contain control characters" in serve.stderr


def test_start_up_reports_a_read_file_that_is_not_a_regular_file_in_one_line(tmp_path):
    data_dir = tmp_path / "agent"
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    write_config(data_dir, {"sync": {"ca_file": str(fifo)}, "ai": {"llm_enabled": False}})
    serve = agent("serve", "--port", "0", "--data-dir", str(data_dir))
    assert serve.returncode == 1 and "Traceback" not in serve.stderr
    assert serve.stderr.strip() == f"config error: sync.ca_file: {fifo} is not a regular file (a directory, device " \
                                   "or FIFO)"
    write_config(data_dir, {"logging": {"file": str(tmp_path)}, "ai": {"llm_enabled": False}})  # a directory
    serve = agent("serve", "--port", "0", "--data-dir", str(data_dir))
    assert serve.returncode == 1 and "Traceback" not in serve.stderr
    assert serve.stderr.strip().startswith("config error: logging.file: cannot write"), serve.stderr
    assert json.loads((data_dir / "config.json").read_text())["logging"]["file"] == str(tmp_path)
    assert Path(tmp_path).is_dir()
