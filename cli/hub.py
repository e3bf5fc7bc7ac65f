"""`agent.py hub agent-add | agent-list | agent-revoke | agent-rotate NAME --db URL`: a team hub's agent tokens."""

from __future__ import annotations

import argparse
from contextlib import closing

from cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    from core.clock import Clock, iso
    from storage.database import Database, DatabaseUnavailable
    from storage.hub import HubError, add_agent, list_agents, revoke_agent, rotate_agent
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
                state = "active" if agent["active"] else f"revoked {agent['revoked_at'] or ''}".rstrip()
                print(f"{agent['name']}\t{state}\trows={agent['rows']}\tacked_seq={agent['acked_seq']}\t"
                      f"last_push={agent['last_push_at'] or '-'}\tlast_used={agent['last_seen_at'] or '-'}\t"
                      f"rotated={agent['rotated_at'] or '-'}", file=ctx.stdout)
            return 0
        try:
            if args.hub_command == "agent-revoke":
                if revoke_agent(db, args.name, iso(clock.now())):
                    print(f"agent {args.name!r} revoked: its token is refused from its next request on; its rows "
                          "stay on the hub (agent-rotate gives it a new token)", file=ctx.stdout)
                else:
                    print(f"agent {args.name!r} was already revoked", file=ctx.stdout)
                return 0
            if args.hub_command == "agent-rotate":
                token = rotate_agent(db, args.name, iso(clock.now()))
                print(f"agent {args.name!r} has a new token; the old one no longer works. Give this one to that "
                      f"agent's `agent.py sync set-token --token-stdin` (shown only now):\n{token}", file=ctx.stdout)
                return 0
            token = add_agent(db, args.name, iso(clock.now()))
        except HubError as exc:
            print(f"error: {exc}", file=ctx.stderr)
            return 1
        print(f"agent {args.name!r} added; its token (shown only now, give it to that agent's "
              f"`agent.py sync set-token --token-stdin`):\n{token}", file=ctx.stdout)
        return 0
