"""Config validation, the settings table and its docs, and the user/config CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.config import SETTINGS, ConfigError, load_config, save_overrides
from tests.helpers import ROOT


def run_agent(*args, stdin=None, env=None):
    import os

    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args], input=stdin, text=True,
                          capture_output=True, timeout=60, env={**os.environ, **(env or {})})


def test_defaults_validate():
    config = load_config(None)
    assert config["server.host"] == "127.0.0.1" and config["server.port"] == 8080
    assert config["capture.default_region"] == "BR"


@pytest.mark.parametrize("content, key", [
    ({"server": {"port": 70000}}, "server.port"),
    ({"server": {"port": "80"}}, "server.port"),
    ({"server": {"bogus": 1}}, "server.bogus"),
    ({"nosection": {}}, "nosection"),
    ({"security": {"extension_origins": ["javascript:alert(1)"]}}, "security.extension_origins"),
    ({"logging": {"level": "LOUD"}}, "logging.level"),
    ({"ai": {"temperature": 5}}, "ai.temperature"),
])
def test_bad_values_name_the_key(tmp_path, content, key):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    result = run_agent("config", "check", "--config", str(path))
    assert result.returncode == 1
    assert key in result.stderr


def test_invalid_json_is_reported_with_position(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"server": {"port": 80,}}')
    result = run_agent("config", "check", "--config", str(path))
    assert result.returncode == 1 and "line 1" in result.stderr


def test_config_check_ok(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"server": {"port": 9000}, "capture": {"default_region": "PT"}}))
    result = run_agent("config", "check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    shown = json.loads(run_agent("config", "show", "--config", str(path)).stdout)
    assert shown["server"]["port"] == 9000 and shown["capture"]["default_region"] == "PT"


def test_save_never_overwrites_the_file_on_error(tmp_path):
    path = tmp_path / "config.json"
    original = json.dumps({"server": {"port": 9000}})
    path.write_text(original)
    with pytest.raises(ConfigError):
        save_overrides(path, {"server.port": -1})
    assert path.read_text() == original
    save_overrides(path, {"logging.level": "DEBUG"})
    assert json.loads(path.read_text()) == {"logging": {"level": "DEBUG"}, "server": {"port": 9000}}
    assert path.stat().st_mode & 0o777 == 0o600


def test_serve_refuses_a_bad_config_without_touching_it(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"server": {"port": "eighty"}}))
    result = run_agent("serve", "--data-dir", str(tmp_path), "--port", "0")
    assert result.returncode == 1 and "server.port" in result.stderr
    assert json.loads(path.read_text()) == {"server": {"port": "eighty"}}


def test_every_setting_has_help_and_is_documented():
    docs = (ROOT / "docs" / "config.md").read_text()
    for setting in SETTINGS:
        assert setting.help.strip(), setting.key
        setting.validate(setting.default)  # every default passes its own validator
        assert f"`{setting.key}`" in docs, f"{setting.key} missing from docs/config.md"


def test_config_docs_are_current():
    from core.config_docs import render_config_markdown

    assert (ROOT / "docs" / "config.md").read_text() == render_config_markdown(), \
        "docs/config.md is stale: run python -m core.config_docs > docs/config.md"


def test_user_cli_add_passwd_and_login(tmp_path):
    data = str(tmp_path / "agent")
    added = run_agent("user", "add", "maria", "--role", "agent", "--password-stdin", "--data-dir", data,
                      stdin="first-password\n")
    assert added.returncode == 0, added.stderr
    duplicate = run_agent("user", "add", "maria", "--password-stdin", "--data-dir", data, stdin="another-pass\n")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = run_agent("user", "add", "joao", "--password-stdin", "--data-dir", data, stdin="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr
    changed = run_agent("user", "passwd", "maria", "--password-stdin", "--data-dir", data, stdin="second-password\n")
    assert changed.returncode == 0
    assert run_agent("user", "passwd", "nobody", "--password-stdin", "--data-dir", data,
                     stdin="second-password\n").returncode == 1
    listing = run_agent("user", "list", "--data-dir", data).stdout
    assert "maria\tagent" in listing
    # The stored hash is argon2id, never the password.
    import sqlite3

    with sqlite3.connect(tmp_path / "agent" / "crm_agent.db") as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'maria'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "second-password" not in stored

    from tests.helpers import start_service

    svc = start_service(tmp_path / "agent")
    try:
        assert svc.admin_password is None  # users exist: no admin is generated
        ok = svc.post("/api/auth/login", token=None, json={"username": "maria", "password": "second-password"})
        assert ok.status_code == 200
        old = svc.post("/api/auth/login", token=None, json={"username": "maria", "password": "first-password"})
        assert old.status_code == 401
    finally:
        svc.stop()


def test_data_dir_from_environment(tmp_path):
    home = tmp_path / "home"
    result = run_agent("user", "add", "env-user", "--password-stdin", stdin="env-password\n",
                       env={"CRM_AGENT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert (home / "crm_agent.db").exists()


@pytest.mark.parametrize("command", [["hub", "agent-list"], ["serve", "--hub", "--port", "0", "--data-dir", "D"]])
def test_an_unreachable_hub_database_is_one_clear_line(tmp_path, command):
    # Port 1 on loopback refuses at once: the driver's reason, no traceback, and never the URL's password.
    command = [str(tmp_path / "d") if arg == "D" else arg for arg in command]
    out = run_agent(*command, "--db", "postgresql://nobody:s3cret-pw@127.0.0.1:1/hub")
    assert out.returncode == 1
    assert out.stderr.startswith("cannot open the database: ") and "refused" in out.stderr
    assert "Traceback" not in out.stderr and "s3cret-pw" not in out.stderr + out.stdout
