"""The command line's arguments, declared in one place (the order here is the order `agent.py --help` lists)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from core.options import add_common_options


def build_parser(translate: Callable[[str], str] = str) -> argparse.ArgumentParser:
    """The parser, its help in the user's language when `translate` is a Translator's `_` (agent.py passes one
    only for --help: building a Translator loads Babel, which `serve` must not import before gevent's patch).
    argparse's own words ("usage:", "options") stay English: they come from argparse's gettext domain."""
    _ = translate
    parser = argparse.ArgumentParser(prog="agent.py", description=_("CRM Agent: a local companion for WhatsApp sales."))
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help=_("run the service headless"))
    add_common_options(serve)
    serve.add_argument("--host", help=_("bind address (default from config: 127.0.0.1)"))
    serve.add_argument("--port", type=int, help=_("TCP port; 0 picks a free one and prints it"))
    serve.add_argument("--hub", action="store_true", help=_("run as a team hub (answers /api/sync/* for agents)"))
    serve.add_argument("--db", help=_("database URL (the hub's PostgreSQL: postgresql://user@host/db)"))

    sync = sub.add_parser("sync", help=_("sync with the team hub"))
    sync_sub = sync.add_subparsers(dest="sync_command", required=True)
    add_common_options(sync_sub.add_parser("now", help=_("push pending rows and pull profile and knowledge changes "
                                                         "now; exit 1 on failure")))
    add_common_options(sync_sub.add_parser("status", help=_("print the sync status as JSON")))
    set_token = sync_sub.add_parser("set-token", help=_("store the token the hub admin gave this agent"))
    set_token.add_argument("--token-stdin", action="store_true", required=True, help=_("read the token from stdin"))
    add_common_options(set_token)

    hub = sub.add_parser("hub", help=_("administer a team hub"))
    hub_sub = hub.add_subparsers(dest="hub_command", required=True)
    agent_add = hub_sub.add_parser("agent-add", help=_("register an agent; prints its token once"))
    agent_add.add_argument("name")
    agent_list = hub_sub.add_parser("agent-list", help=_("list the hub's agents: active or revoked, last use"))
    agent_revoke = hub_sub.add_parser("agent-revoke", help=_("end an agent's token from its next request on"))
    agent_revoke.add_argument("name")
    agent_rotate = hub_sub.add_parser("agent-rotate", help=_("give an agent a new token (prints it once); the old one "
                                                           "ends at once, the agent keeps its rows and cursor"))
    agent_rotate.add_argument("name")
    for hub_parser in (agent_add, agent_list, agent_revoke, agent_rotate):
        hub_parser.add_argument("--db", required=True, help=_("the hub's database URL (postgresql://...)"))

    user = sub.add_parser("user", help=_("manage users"))
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help=_("create a user"))
    add.add_argument("name")
    add.add_argument("--role", choices=("admin", "agent"), default="agent")
    add.add_argument("--password-stdin", action="store_true", required=True, help=_("read the password from stdin"))
    add_common_options(add)
    passwd = user_sub.add_parser("passwd", help=_("change a user's password"))
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    add_common_options(passwd)
    listing = user_sub.add_parser("list", help=_("list users"))
    add_common_options(listing)
    for action, meaning in (("disable", _("disable a user: their sessions end and they cannot log in")),
                            ("enable", _("enable a disabled user again"))):
        toggle = user_sub.add_parser(action, help=meaning)
        toggle.add_argument("name")
        add_common_options(toggle)
    sessions = user_sub.add_parser("sessions", help=_("a user's sessions (access tokens)"))
    sessions_sub = sessions.add_subparsers(dest="sessions_command", required=True)
    revoke_sessions = sessions_sub.add_parser("revoke", help=_("end every session of a user (they log in again)"))
    revoke_sessions.add_argument("name")
    add_common_options(revoke_sessions)

    security = sub.add_parser("security", help=_("signing keys"))
    security_sub = security.add_subparsers(dest="security_command", required=True)
    add_common_options(security_sub.add_parser("rotate-keys", help=_("a new JWT signing key: every access token "
                                                                   "ends (through the service when one runs); the "
                                                                   "local token and paired extensions keep working")))

    config = sub.add_parser("config", help=_("check or show the configuration"))
    config_sub = config.add_subparsers(dest="config_command", required=True)
    add_common_options(config_sub.add_parser("check", help=_("validate config.json; exit 1 naming the bad key")))
    add_common_options(config_sub.add_parser("show", help=_("print the effective settings as JSON")))

    backup = sub.add_parser("backup", help=_("back the database up or list backups"))
    backup_sub = backup.add_subparsers(dest="backup_command", required=True)
    add_common_options(backup_sub.add_parser("now", help=_("write a verified backup now (safe while the service "
                                                           "runs)")))
    add_common_options(backup_sub.add_parser("list", help=_("list backups, newest first")))
    restore = backup_sub.add_parser("restore", help=_("replace the database with a backup (the current one is "
                                                    "saved first as a -pre-restore backup)"))
    restore.add_argument("file", nargs="?", help=_("the backup file (.db or encrypted .db.enc)"))
    restore.add_argument("--from-hub", action="store_true",
                         help=_("download this agent's newest off-site backup from the team hub and restore it (needs "
                              "sync.hub_url, `sync set-token` and the backup key from `backup import-key`)"))
    restore.add_argument("--latest", action="store_true",
                         help=_("restore the newest verified backup in the backups folder (also over a damaged "
                                "database)"))
    add_common_options(restore)
    add_common_options(backup_sub.add_parser("export-key", help=_("print the backup key (hex): keep it somewhere safe; "
                                                               "a new machine needs it to restore backups")))
    import_key = backup_sub.add_parser("import-key", help=_("store a backup key exported on another machine "
                                                          "(read from stdin)"))
    import_key.add_argument("--key-stdin", action="store_true", required=True,
                            help=_("read the key from stdin (never from the command line: it would be in the shell's "
                                 "history and the process list)"))
    import_key.add_argument("--force", action="store_true", help=_("replace a different key already stored here"))
    add_common_options(import_key)

    pair = sub.add_parser("pair", help=_("pair the browser extension: pending codes, paired extensions, revoke"))
    pair_sub = pair.add_subparsers(dest="pair_command", required=True)
    add_common_options(pair_sub.add_parser("pending", help=_("pending pairings with their codes (type the code "
                                                           "into the extension's options page)")))
    add_common_options(pair_sub.add_parser("list", help=_("paired browser extensions, revoked ones included")))
    revoke = pair_sub.add_parser("revoke", help=_("revoke a paired browser extension (it must pair again)"))
    revoke.add_argument("id", type=int)
    add_common_options(revoke)

    sub.add_parser("ui", help=_("dashboard | settings | logs | connect: open a window (one UI process hosts them all)"))
    add_common_options(sub.add_parser("init", help=_("create the data directories, a default config.json when "
                                                   "there is none and the database (what the installer runs; "
                                                   "safe to repeat)")))

    sub.add_parser("autostart", help=_("on | off | status: start the desktop agent on login"))
    sub.add_parser("ai-worker", help=_("the LLM worker process (started by the service)"))
    sub.add_parser("rules-worker", help=_("the built-in analyzer for capture batches (started by the service)"))
    return parser
