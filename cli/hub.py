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
    tr = ctx.tr
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
                    print(tr._("agent {name} revoked: its token is refused from its next request on; its rows stay "
                               "on the hub (agent-rotate gives it a new token)").format(name=repr(args.name)),
                          file=ctx.stdout)
                else:
                    print(tr._("agent {name} was already revoked").format(name=repr(args.name)), file=ctx.stdout)
                return 0
            if args.hub_command == "agent-rotate":
                token = rotate_agent(db, args.name, iso(clock.now()))
                print(tr._("agent {name} has a new token; the old one no longer works. Give this one to that agent's "
                           "`agent.py sync set-token --token-stdin` (shown only now):").format(name=repr(args.name)),
                      file=ctx.stdout)
                print(token, file=ctx.stdout)  # alone on its line: copied or read by a script
                return 0
            token = add_agent(db, args.name, iso(clock.now()))
        except HubError as exc:
            print(tr._("error: {error}").format(error=exc), file=ctx.stderr)
            return 1
        print(tr._("agent {name} added; its token (shown only now, give it to that agent's "
                   "`agent.py sync set-token --token-stdin`):").format(name=repr(args.name)), file=ctx.stdout)
        print(token, file=ctx.stdout)
        return 0
