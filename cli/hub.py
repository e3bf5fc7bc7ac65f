"""`agent.py hub agent-add NAME --db URL | agent-list --db URL`: a team hub's agent tokens."""

from __future__ import annotations

import argparse
from contextlib import closing

from cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from storage.database import Database, DatabaseUnavailable
    from storage.hub import HubError, add_agent, list_agents
    from storage.migrations import migrate

    clock = Clock()
    try:
        db = Database(args.db)  # the hub's own database, named on the command line
    except DatabaseUnavailable as exc:
        print(exc, file=ctx.stderr)
        return 1
    with closing(db):
        migrate(db, iso(clock.now()))
        if args.hub_command == "agent-list":
            for agent in list_agents(db):
                print(f"{agent['name']}\t{'active' if agent['active'] else 'disabled'}\trows={agent['rows']}\t"
                      f"acked_seq={agent['acked_seq']}\tlast_push={agent['last_push_at'] or '-'}", file=ctx.stdout)
            return 0
        try:
            token = add_agent(db, args.name, iso(clock.now()))
        except HubError as exc:
            print(f"error: {exc}", file=ctx.stderr)
            return 1
        print(f"agent {args.name!r} added; its token (shown only now, give it to that agent's "
              f"`agent.py sync set-token --token-stdin`):\n{token}", file=ctx.stdout)
        return 0
