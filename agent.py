#!/usr/bin/env python3
"""CRM Agent command line.

  agent.py [--data-dir DIR] [--config FILE] [--port N]                    the desktop agent (tray + service)
  agent.py serve [--host H] [--port N] [--data-dir DIR] [--config FILE]   the service, headless
  agent.py ui dashboard | settings | logs | connect [--data-dir DIR]      open a window
  agent.py serve --hub --db postgresql://... [--host H] [--port N]        a team hub for agents' sync
  agent.py sync now | status                                              sync with the team hub
  agent.py sync set-token --token-stdin                                   store this agent's hub token (0600)
  agent.py hub agent-add NAME --db URL | agent-list --db URL              hub admin: agent tokens
  agent.py autostart on | off | status                                    start the agent on login
  agent.py user add NAME [--role admin|agent] --password-stdin            create a user
  agent.py user passwd NAME --password-stdin                              change a password
  agent.py user list                                                      list users
  agent.py config check [--data-dir DIR] [--config FILE]                  validate config.json
  agent.py backup now | list [--data-dir DIR]                             verified backups of the database
  agent.py backup restore FILE [--data-dir DIR]                           restore a backup (through the service
                                                                          when one runs on that data directory)
  agent.py pair pending | list [--data-dir DIR]                           pending pairings (with their codes) and
                                                                          paired browser extensions (via the service)
  agent.py pair revoke ID [--data-dir DIR]                                revoke a paired browser extension
  agent.py init [--data-dir DIR] [--config FILE]                          data directories, config, database
  agent.py config show                                                    print the effective settings
  agent.py ai-worker                                                      the LLM worker (started by the service)
  agent.py rules-worker                                                   the built-in analyzer for capture batches

This module is the entry point only: PROCESSES hands the rest of the command line to a process that reads its
own arguments; any other command is parsed (cli/parser.py) and dispatched through COMMANDS (cli/commands.py) with
the one per-process Context (cli/context.py). Each mode imports only what it needs: `serve` patches gevent
before anything else is imported, and the desktop processes never import gevent or the storage layer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from cli import workers


def open_window(argv: list[str]) -> int:
    """dashboard | settings | logs | connect [--data-dir DIR] [--config FILE]: one UI process hosts them all."""
    from windows.app import main as ui_main

    return ui_main(argv)


def autostart(argv: list[str]) -> int:
    """on | off | status [--data-dir DIR]"""
    from desktop.autostart import cli

    return cli(argv)


def desktop(argv: list[str]) -> int:
    """The desktop agent: tray icon, supervised service, notifications (headless without a display).

    [--data-dir DIR] [--config FILE] [--port N]"""
    from tray.app import main as desktop_main

    return desktop_main(argv)


# The processes that read their own arguments: they get the rest of the command line as it is.
PROCESSES: dict[str, Callable[[list[str]], int]] = {
    "ui": open_window,
    "autostart": autostart,
    "ai-worker": workers.ai_worker,
    "rules-worker": workers.rules_worker,
}


def run_command(argv: list[str]) -> int:
    """A command from cli/commands.py's COMMANDS, run with the process's one Context made from its options."""
    # Imported here, not at the top: the desktop and worker processes never load the command modules (start-up).
    from cli.commands import COMMANDS
    from cli.context import Context
    from cli.parser import build_parser

    parser = build_parser(help_language(argv))
    args = parser.parse_args(argv)
    command = COMMANDS.get(args.command)
    if command is None:
        parser.print_help()
        return 2
    return command(Context.from_args(args), args)


def help_language(argv: list[str]) -> Callable[[str], str]:
    """The help's translation for `--help` (and a command line without a command): a Translator from the settings
    named by --data-dir/--config (their language, else the system's). Other command lines keep the plain text:
    a Translator loads Babel, which `serve` must not import before gevent patches the standard library."""
    if argv and not any(arg in ("-h", "--help") for arg in argv):
        return str
    import argparse

    from cli.context import Context
    from core.options import add_common_options

    options = argparse.ArgumentParser(add_help=False)
    add_common_options(options)
    known, _rest = options.parse_known_args(argv)
    return Context.from_args(known).tr._


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # core.paths.PRIVATE_UMASK (0o077; it says why), not imported: every process imports agent.py, which loads
    # nothing it does not need (tests/test_cli_context.py).
    os.umask(0o077)
    if argv[:1] and argv[0] in PROCESSES:
        return PROCESSES[argv[0]](argv[1:])
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return desktop(argv)
    return run_command(argv)


if __name__ == "__main__":
    sys.exit(main())
