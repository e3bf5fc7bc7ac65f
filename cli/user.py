"""`agent.py user add NAME [--role R] --password-stdin | passwd NAME --password-stdin | list`."""

from __future__ import annotations

import argparse
from contextlib import closing

from cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from crm.users import UserError, change_password, create_user
    from storage.migrations import migrate
    from storage.users import list_users

    ctx.data_dir.ensure()
    clock = Clock()
    with closing(ctx.open_database()) as db:
        migrate(db, iso(clock.now()))
        if args.user_command == "list":
            for user in list_users(db):
                print(f"{user['username']}\t{user['role']}\t{'active' if user['active'] else 'disabled'}",
                      file=ctx.stdout)
            return 0
        password = read_password(ctx)
        try:
            if args.user_command == "add":
                create_user(db, clock, args.name, password, args.role)
                print(f"created user {args.name!r} ({args.role})", file=ctx.stdout)
            else:
                change_password(db, clock, args.name, password)
                print(f"password changed for {args.name!r}", file=ctx.stdout)
        except UserError as exc:
            print(f"error: {exc}", file=ctx.stderr)
            return 1
        return 0


def read_password(ctx: Context) -> str:
    password = ctx.stdin.readline().rstrip("\r\n")
    if not password:
        raise SystemExit("error: no password on stdin")
    return password
