"""`agent.py sync now | status | set-token --token-stdin`: this agent's sync with its team hub."""

from __future__ import annotations

import argparse
import json
from contextlib import closing

from cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    data_dir = ctx.data_dir.ensure()
    if args.sync_command == "set-token":
        return set_token(ctx)
    from core.clock import Clock, iso
    from crm.sync import SyncAgent, SyncError, SyncSettings
    from storage.migrations import migrate

    config = ctx.config
    clock = Clock()
    with closing(ctx.open_database()) as db:
        migrate(db, iso(clock.now()))
        agent = SyncAgent(db, SyncSettings.from_config(config, data_dir), clock)
        if args.sync_command == "status":
            print(json.dumps(agent.status(), indent=2), file=ctx.stdout)
            return 0
        try:
            result = agent.sync_once()
        except SyncError as exc:
            print(ctx.tr._("sync failed: {error}").format(error=exc), file=ctx.stderr)
            return 1
        print(json.dumps(result, indent=2), file=ctx.stdout)
        return 0


def set_token(ctx: Context) -> int:
    """Store the token the hub admin gave this agent, readable only by the user."""
    from core.secrets_store import write_private_file

    token = ctx.stdin.readline().strip()
    if not token:
        print(ctx.tr._("error: no token on stdin"), file=ctx.stderr)
        return 1
    write_private_file(ctx.data_dir.hub_token_file, token + "\n")
    print(ctx.tr._("hub token saved in {path} (readable only by you)").format(path=ctx.data_dir.hub_token_file),
          file=ctx.stdout)
    return 0
