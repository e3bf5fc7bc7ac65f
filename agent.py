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

Each mode imports only what it needs: `serve` patches gevent before anything else is imported, and the
desktop processes never import gevent or the storage layer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HUB_MAX_BODY = 16 * 1024 * 1024  # the largest server.max_body_bytes allows: a push batch of big rows


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (default: $CRM_AGENT_HOME or the per-user data dir)")
    parser.add_argument("--config", help="config file (default: config.json in the data directory)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent.py", description="CRM Agent: a local companion for WhatsApp sales.")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the service headless")
    _common(serve)
    serve.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port; 0 picks a free one and prints it")
    serve.add_argument("--hub", action="store_true", help="run as a team hub (answers /api/sync/* for agents)")
    serve.add_argument("--db", help="database URL (the hub's PostgreSQL: postgresql://user@host/db)")

    sync = sub.add_parser("sync", help="sync with the team hub")
    sync_sub = sync.add_subparsers(dest="sync_command", required=True)
    _common(sync_sub.add_parser("now", help="push pending rows and pull profile changes now; exit 1 on failure"))
    _common(sync_sub.add_parser("status", help="print the sync status as JSON"))
    set_token = sync_sub.add_parser("set-token", help="store the token the hub admin gave this agent")
    set_token.add_argument("--token-stdin", action="store_true", required=True, help="read the token from stdin")
    _common(set_token)

    hub = sub.add_parser("hub", help="administer a team hub")
    hub_sub = hub.add_subparsers(dest="hub_command", required=True)
    agent_add = hub_sub.add_parser("agent-add", help="register an agent; prints its token once")
    agent_add.add_argument("name")
    agent_list = hub_sub.add_parser("agent-list", help="list the hub's agents")
    for hub_parser in (agent_add, agent_list):
        hub_parser.add_argument("--db", required=True, help="the hub's database URL (postgresql://...)")

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", choices=("admin", "agent"), default="agent")
    add.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    _common(add)
    passwd = user_sub.add_parser("passwd", help="change a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", required=True)
    _common(passwd)
    listing = user_sub.add_parser("list", help="list users")
    _common(listing)

    config = sub.add_parser("config", help="check or show the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    _common(config_sub.add_parser("check", help="validate config.json; exit 1 naming the bad key"))
    _common(config_sub.add_parser("show", help="print the effective settings as JSON"))

    backup = sub.add_parser("backup", help="back the database up or list backups")
    backup_sub = backup.add_subparsers(dest="backup_command", required=True)
    _common(backup_sub.add_parser("now", help="write a verified backup now (safe while the service runs)"))
    _common(backup_sub.add_parser("list", help="list backups, newest first"))
    restore = backup_sub.add_parser("restore", help="replace the database with a backup (the current one is "
                                                    "saved first as a -pre-restore backup)")
    restore.add_argument("file", help="the backup file (.db or encrypted .db.enc)")
    _common(restore)

    pair = sub.add_parser("pair", help="pair the browser extension: pending codes, paired extensions, revoke")
    pair_sub = pair.add_subparsers(dest="pair_command", required=True)
    _common(pair_sub.add_parser("pending", help="pending pairings with their codes (type the code into the "
                                                "extension's options page)"))
    _common(pair_sub.add_parser("list", help="paired browser extensions, revoked ones included"))
    revoke = pair_sub.add_parser("revoke", help="revoke a paired browser extension (it must pair again)")
    revoke.add_argument("id", type=int)
    _common(revoke)

    sub.add_parser("ui", help="dashboard | settings | logs | connect: open a window (one UI process hosts them all)")
    _common(sub.add_parser("init", help="create the data directories, a default config.json when there is none "
                                       "and the database (what the installer runs; safe to repeat)"))

    sub.add_parser("autostart", help="on | off | status: start the desktop agent on login")
    sub.add_parser("ai-worker", help="the LLM worker process (started by the service)")
    sub.add_parser("rules-worker", help="the built-in analyzer for capture batches (started by the service)")
    return parser


def _data_dir(args: argparse.Namespace):
    from core.paths import DataDir, resolve_data_dir

    return DataDir(resolve_data_dir(args.data_dir))


def _config_path(args: argparse.Namespace, data_dir) -> Path:  # noqa: ANN001
    return Path(args.config).expanduser() if args.config else data_dir.config_file


def _load_config(args: argparse.Namespace, data_dir):  # noqa: ANN001
    from core.config import env_overrides, load_config

    return load_config(_config_path(args, data_dir)).with_overrides(env_overrides())


def cmd_serve(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all()
    from runtime.serve import gevent_event_loop, release_freed_memory_to_os, serve_forever

    release_freed_memory_to_os()
    from core.config import ConfigError
    from core.logging_setup import setup_logging
    from runtime.build import build_service

    data_dir = _data_dir(args).ensure()
    try:
        config = _load_config(args, data_dir)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    service_lock = _take_service_lock(data_dir)
    if service_lock is None:
        return 1
    if args.db:
        config = config.with_overrides({"database.path": args.db})
    if args.hub:
        # A hub takes pushes, not captures: no analysis workers, and bodies as big as a push batch.
        config = config.with_overrides({"ai.llm_enabled": False, "ai.rules_worker": False,
                                        "server.max_body_bytes": max(config["server.max_body_bytes"], HUB_MAX_BODY)})
    log_file = Path(config["logging.file"]) if config["logging.file"] else data_dir.log_file
    setup_logging(config["logging.level"], log_file, config["logging.max_bytes"], config["logging.backup_count"],
                  to_stderr=False)
    from storage.database import DatabaseUnavailable

    try:
        service = build_service(config, data_dir, hub=args.hub, loop=gevent_event_loop())
    except DatabaseUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    host = args.host or config["server.host"]
    port = config["server.port"] if args.port is None else args.port

    def announce(line: str) -> None:
        print(line, flush=True)

    return serve_forever(service, host, port, announce)


def cmd_sync(args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from core.secrets_store import write_private_file
    from crm.sync import SyncAgent, SyncError, SyncSettings
    from runtime.build import service_database_url
    from storage.database import Database
    from storage.migrations import migrate

    data_dir = _data_dir(args).ensure()
    if args.sync_command == "set-token":
        token = sys.stdin.readline().strip()
        if not token:
            print("error: no token on stdin", file=sys.stderr)
            return 1
        write_private_file(data_dir.hub_token_file, token + "\n")
        print(f"hub token saved in {data_dir.hub_token_file} (readable only by you)")
        return 0
    config = _load_config(args, data_dir)
    clock = Clock()
    db = Database(service_database_url(config, data_dir), busy_timeout_ms=config["database.busy_timeout_ms"])
    try:
        migrate(db, iso(clock.now()))
        agent = SyncAgent(db, SyncSettings.from_config(config, data_dir), clock)
        if args.sync_command == "status":
            print(json.dumps(agent.status(), indent=2))
            return 0
        try:
            result = agent.sync_once()
        except SyncError as exc:
            print(f"sync failed: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(result, indent=2))
        return 0
    finally:
        db.close()


def cmd_hub(args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from storage.database import Database, DatabaseUnavailable
    from storage.hub import HubError, add_agent, list_agents
    from storage.migrations import migrate

    clock = Clock()
    try:
        db = Database(args.db)
    except DatabaseUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        migrate(db, iso(clock.now()))
        if args.hub_command == "agent-list":
            for agent in list_agents(db):
                print(f"{agent['name']}\t{'active' if agent['active'] else 'disabled'}\trows={agent['rows']}\t"
                      f"acked_seq={agent['acked_seq']}\tlast_push={agent['last_push_at'] or '-'}")
            return 0
        try:
            token = add_agent(db, args.name, iso(clock.now()))
        except HubError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"agent {args.name!r} added; its token (shown only now, give it to that agent's "
              f"`agent.py sync set-token --token-stdin`):\n{token}")
        return 0
    finally:
        db.close()


SERVICE_LOCK_WAIT_S = 600.0


def _take_service_lock(data_dir):  # noqa: ANN001 - DataDir -> FileLock | None
    """Held for the service's lifetime (the OS drops it at exit): a restore run from the command line takes it
    too, so the service waits for the restore to finish instead of opening a database being replaced."""
    from core.oslock import FileLock

    lock = FileLock(data_dir.service_lock_file)
    if lock.try_acquire():
        return lock
    print("waiting for the data directory's lock (a restore or another service is using it)", file=sys.stderr,
          flush=True)
    if lock.acquire(SERVICE_LOCK_WAIT_S):
        return lock
    print(f"error: {data_dir.service_lock_file} stayed locked for {SERVICE_LOCK_WAIT_S:.0f} s; is another service "
          "running on this data directory?", file=sys.stderr)
    return None


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise SystemExit("error: no password on stdin")
    return password


def cmd_user(args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from crm.users import UserError, change_password, create_user
    from runtime.build import service_database_url
    from storage.database import Database
    from storage.migrations import migrate
    from storage.users import list_users

    data_dir = _data_dir(args).ensure()
    config = _load_config(args, data_dir)
    clock = Clock()
    db = Database(service_database_url(config, data_dir), busy_timeout_ms=config["database.busy_timeout_ms"])
    try:
        migrate(db, iso(clock.now()))
        if args.user_command == "list":
            for user in list_users(db):
                print(f"{user['username']}\t{user['role']}\t{'active' if user['active'] else 'disabled'}")
            return 0
        password = _read_password()
        if args.user_command == "add":
            create_user(db, clock, args.name, password, args.role)
            print(f"created user {args.name!r} ({args.role})")
        else:
            change_password(db, clock, args.name, password)
            print(f"password changed for {args.name!r}")
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()


def cmd_config(args: argparse.Namespace) -> int:
    from core.config import ConfigError

    data_dir = _data_dir(args)
    path = _config_path(args, data_dir)
    try:
        config = _load_config(args, data_dir)
    except ConfigError as exc:
        print(f"{path}: invalid: {exc}", file=sys.stderr)
        return 1
    if args.config_command == "show":
        print(json.dumps(config.as_sections(), indent=2))
    else:
        print(f"{path}: ok" if path.exists() else f"{path}: not present; defaults apply")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from runtime.build import service_database_url
    from storage.backup_crypto import BackupCryptoError, load_or_create_key
    from storage.backups import BackupError, backup_database, list_backups

    data_dir = _data_dir(args).ensure()
    config = _load_config(args, data_dir)
    if args.backup_command == "list":
        for info in list_backups(data_dir.backups):
            flags = "".join((" encrypted" if info.encrypted else "", " pre-restore" if info.pre_restore else ""))
            print(f"{info.created_at}\t{info.size_bytes}\t{info.status}{flags}\t{info.path}")
        return 0
    url = service_database_url(config, data_dir)
    if not url.startswith("sqlite:///"):
        print("error: backups are for the local SQLite database", file=sys.stderr)
        return 1
    source = Path(url[len("sqlite:///"):])
    if args.backup_command == "restore":
        from crm.restore_cli import restore_command

        return restore_command(Path(args.file), data_dir, config)
    if not source.exists():
        print(f"error: no database at {source}", file=sys.stderr)
        return 1
    try:
        key = load_or_create_key(data_dir.backup_key_file) if config["database.backup_encryption"] else None
        info = backup_database(source, data_dir.backups, config["database.max_backups"], key=key)
    except (BackupError, BackupCryptoError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written and verified: {info.path} ({info.size_bytes} bytes{', encrypted' if key else ''})")
    return 0


def cmd_pair(args: argparse.Namespace) -> int:
    """Ask the running service (pairings live in its memory) with the local token, which counts as admin."""
    from core.discovery import read_service_url
    from core.service_client import ServiceClient, ServiceUnavailable

    data_dir = _data_dir(args)
    base = read_service_url(data_dir)
    if base is None:
        print(f"error: no service is running on {data_dir.root} (start it: agent.py serve)", file=sys.stderr)
        return 1
    client = ServiceClient(lambda: base, data_dir.local_token_file)
    method, path = {"pending": ("GET", "/api/pairing/pending"), "list": ("GET", "/api/extensions"),
                    "revoke": ("DELETE", f"/api/extensions/{getattr(args, 'id', 0)}")}[args.pair_command]
    try:
        reply = client.request(method, path)
    except ServiceUnavailable as exc:
        print(f"error: the service at {base} did not answer: {exc}", file=sys.stderr)
        return 1
    if reply.status != 200:
        message = ((reply.body or {}).get("error") or {}).get("message", f"HTTP {reply.status}")
        print(f"error: {message}", file=sys.stderr)
        return 1
    if args.pair_command == "revoke":
        print(f"extension {args.id} revoked")
        return 0
    items = reply.body["items"]
    if args.pair_command == "pending":
        if not items:
            print("no pairing pending (start one from the extension's options page)")
        for p in items:
            print(f"code {p['code']}	{p['name']} ({p['browser']})	{p['origin']}	expires {p['expires_at']}	"
                  f"tries left {p['tries_left']}	id {p['pairing_id']}")
        return 0
    if not items:
        print("no browser extension paired")
    for e in items:
        print(f"{e['id']}	{e['state']}	{e['name']} ({e['browser']})	{e['origin']}	paired {e['paired_at']}	"
              f"last seen {e['last_seen_at'] or '-'}")
    return 0


# What the installer writes when there is no config.json yet: the one key most users edit (to let their
# browser extension in); everything else keeps its default (docs/config.md).
DEFAULT_CONFIG = {"security.extension_origins": []}


def cmd_init(args: argparse.Namespace) -> int:
    """Create what the agent needs in the data directory; never overwrite what is already there."""
    from core.clock import Clock, iso
    from core.config import ConfigError, save_overrides
    from runtime.build import service_database_url
    from storage.database import Database
    from storage.migrations import migrate

    data_dir = _data_dir(args).ensure()
    for directory in (data_dir.backups, data_dir.models):
        directory.mkdir(parents=True, exist_ok=True)
    path = _config_path(args, data_dir)
    if path.exists():
        print(f"config: {path} kept")
    else:
        save_overrides(path, DEFAULT_CONFIG)
        print(f"config: {path} written")
    try:
        config = _load_config(args, data_dir)
    except ConfigError as exc:
        print(f"{path}: invalid: {exc}", file=sys.stderr)
        return 1
    db = Database(service_database_url(config, data_dir), busy_timeout_ms=config["database.busy_timeout_ms"])
    try:
        version = migrate(db, iso(Clock().now()))
    finally:
        db.close()
    print(f"database: {service_database_url(config, data_dir)} at schema version {version}")
    return 0


def cmd_ai_worker(args: argparse.Namespace, rest: list[str]) -> int:
    from ai.worker import main

    return main(rest)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["ai-worker"]:
        return cmd_ai_worker(argparse.Namespace(), argv[1:])
    if argv[:1] == ["ui"]:
        from windows.app import main as ui_main

        return ui_main(argv[1:])  # dashboard | settings | logs | connect [--data-dir DIR] [--config FILE]
    if argv[:1] == ["autostart"]:
        from core.autostart import cli

        return cli(argv[1:])  # on | off | status [--data-dir DIR]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        # The desktop agent: tray icon, supervised service, notifications (headless without a display).
        from tray.app import main as desktop_main

        return desktop_main(argv)  # [--data-dir DIR] [--config FILE] [--port N]
    if argv[:1] == ["rules-worker"]:
        from ai.rules_worker import main as rules_worker_main

        return rules_worker_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "user":
        return cmd_user(args)
    if args.command == "config":
        return cmd_config(args)
    if args.command == "backup":
        return cmd_backup(args)
    if args.command == "init":
        return cmd_init(args)
    if args.command == "sync":
        return cmd_sync(args)
    if args.command == "hub":
        return cmd_hub(args)
    if args.command == "pair":
        return cmd_pair(args)
    build_parser().print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
