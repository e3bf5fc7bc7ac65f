"""The command line's per-process Context (cli/context.py) and agent.py's dispatch tables, in this process: a
Context made with its own environ and streams, as HTTPie's tests use a MockEnvironment. The commands' output
and exit codes through a real `agent.py` are covered in test_config_cli.py, test_restore.py, test_sync.py and
test_distribution.py."""

from __future__ import annotations

import argparse
import io
import json
import stat
import subprocess
import sys

import pytest

import agent
from cli import commands
from cli import config as config_command
from cli import sync as sync_command
from cli.context import Context
from cli.parser import build_parser
from core.config import ConfigError
from core.paths import HOME_ENV
from tests.helpers import ROOT


def _context(tmp_path, environ=None, data_dir=None, config=None, stdin="") -> Context:
    return Context.from_options(data_dir, config, environ if environ is not None else {HOME_ENV: str(tmp_path)},
                                stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO())


def test_environment_overrides_apply_over_the_config_file(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"server": {"port": 8181, "host": "127.0.0.1"}}))
    ctx = _context(tmp_path, {HOME_ENV: str(tmp_path), "CRM_AGENT__SERVER__PORT": "9123"})
    assert ctx.data_dir.root == tmp_path.resolve()
    assert ctx.config_file == tmp_path.resolve() / "config.json"
    assert ctx.config["server.port"] == 9123  # the environment wins over the file
    assert ctx.config["server.host"] == "127.0.0.1"


def test_the_settings_are_loaded_once_per_process(tmp_path):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"server": {"port": 8181}}))
    ctx = _context(tmp_path)
    first = ctx.config
    config_file.write_text(json.dumps({"server": {"port": 8282}}))
    assert ctx.config is first and ctx.config["server.port"] == 8181


def test_the_options_win_over_the_environment(tmp_path):
    chosen, elsewhere = tmp_path / "chosen", tmp_path / "elsewhere"
    ctx = _context(tmp_path, {HOME_ENV: str(elsewhere)}, data_dir=str(chosen), config=str(tmp_path / "my.json"))
    assert ctx.data_dir.root == chosen.resolve()
    assert ctx.config_file == tmp_path / "my.json"
    assert not chosen.exists()  # resolving creates nothing: the commands that write there create it


def test_a_bad_setting_from_the_environment_is_a_config_error_naming_the_key(tmp_path):
    ctx = _context(tmp_path, {HOME_ENV: str(tmp_path), "CRM_AGENT__SERVER__PORT": "\"not a port\""})
    with pytest.raises(ConfigError, match=r"server\.port"):
        ctx.config


def test_config_show_prints_the_effective_settings_to_the_contexts_stdout(tmp_path):
    ctx = _context(tmp_path, {HOME_ENV: str(tmp_path), "CRM_AGENT__WEBSOCKET__MAX_CLIENTS": "7"})
    assert config_command.run(ctx, argparse.Namespace(config_command="show")) == 0
    assert json.loads(ctx.stdout.getvalue())["websocket"]["max_clients"] == 7


def test_config_check_names_the_file_and_the_bad_key_on_stderr(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"server": {"port": "bad"}}))
    ctx = _context(tmp_path)
    assert config_command.run(ctx, argparse.Namespace(config_command="check")) == 1
    assert ctx.stderr.getvalue() == f"{ctx.config_file}: invalid: server.port: must be an integer\n"
    assert ctx.stdout.getvalue() == ""


def test_sync_set_token_reads_the_contexts_stdin_and_keeps_the_token_private(tmp_path):
    ctx = _context(tmp_path, stdin="hub-token-123\n")
    assert sync_command.run(ctx, argparse.Namespace(sync_command="set-token")) == 0
    token_file = tmp_path.resolve() / "hub_token"
    assert token_file.read_text() == "hub-token-123\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert ctx.stdout.getvalue() == f"hub token saved in {token_file} (readable only by you)\n"

    empty = _context(tmp_path, stdin="\n")
    assert sync_command.run(empty, argparse.Namespace(sync_command="set-token")) == 1
    assert empty.stderr.getvalue() == "error: no token on stdin\n"


def test_every_command_the_parser_knows_has_exactly_one_entry_in_the_dispatch_tables():
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == set(commands.COMMANDS) | set(agent.PROCESSES)
    assert not set(commands.COMMANDS) & set(agent.PROCESSES)


def test_the_processes_get_the_rest_of_the_command_line_as_it_is(monkeypatch):
    seen = []
    monkeypatch.setitem(agent.PROCESSES, "rules-worker", lambda argv: seen.append(argv) or 5)
    assert agent.main(["rules-worker", "--flag", "value"]) == 5
    assert seen == [["--flag", "value"]]


def test_a_command_runs_with_one_context_made_from_its_options(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setitem(commands.COMMANDS, "config", lambda ctx, args: seen.append((ctx, args.config_command)) or 3)
    assert agent.main(["config", "show", "--data-dir", str(tmp_path)]) == 3
    [(ctx, command)] = seen
    assert command == "show" and ctx.data_dir.root == tmp_path.resolve()


def test_the_desktop_and_worker_entries_do_not_load_the_command_modules():
    """agent.py is imported by every process; the commands (and their settings and database modules) load only
    when a command runs."""
    code = ("import sys, agent; print(sorted(m for m in sys.modules if m.startswith(('cli.', 'core.', 'argparse'))))")
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "['cli.workers']"
