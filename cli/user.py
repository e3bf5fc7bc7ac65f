"""`agent.py user add NAME [--role R] --password-stdin | passwd NAME --password-stdin | list | disable NAME |
enable NAME | sessions revoke NAME`.

Each writes the database directly, also while the service runs: the service checks every token against the
users table on each request, and its open WebSockets every few seconds, so a password change, a disabled user
or revoked sessions hold there without a restart.
"""

from __future__ import annotations

import argparse
from contextlib import closing

from cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from crm.users import UserError, change_password, create_user, revoke_sessions, set_user_active
    from storage.migrations import migrate
    from storage.users import list_users

    ctx.data_dir.ensure()
    tr = ctx.tr
    clock = Clock()
    with closing(ctx.open_database()) as db:
        migrate(db, iso(clock.now()))
        if args.user_command == "list":
            for user in list_users(db):
                print(f"{user['username']}\t{user['role']}\t{'active' if user['active'] else 'disabled'}",
                      file=ctx.stdout)
            return 0
        try:
            if args.user_command in ("disable", "enable"):
                enable = args.user_command == "enable"
                name = set_user_active(db, clock, args.name, enable)
                done = tr._("user {name} enabled") if enable else tr._("user {name} disabled; their sessions ended")
                print(done.format(name=repr(name)), file=ctx.stdout)
                return 0
            if args.user_command == "sessions":
                name = revoke_sessions(db, clock, args.name)
                print(tr._("every session of {name} ended (they log in again)").format(name=repr(name)),
                      file=ctx.stdout)
                return 0
        except UserError as exc:
            print(tr._("error: {error}").format(error=exc), file=ctx.stderr)
            return 1
        password = read_password(ctx)
        try:
            if args.user_command == "add":
                create_user(db, clock, args.name, password, args.role)
                print(tr._("created user {name} ({role})").format(name=repr(args.name), role=args.role),
                      file=ctx.stdout)
            else:
                change_password(db, clock, args.name, password)
                print(tr._("password changed for {name}; their sessions ended").format(name=repr(args.name)),
                      file=ctx.stdout)
        except UserError as exc:
            print(tr._("error: {error}").format(error=exc), file=ctx.stderr)
            return 1
        return 0


def read_password(ctx: Context) -> str:
    password = ctx.stdin.readline().rstrip("\r\n")
    if not password:
        raise SystemExit(ctx.tr._("error: no password on stdin"))
    return password
