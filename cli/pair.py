"""`agent.py pair pending | list | revoke ID`: asks the running service, where pairings live (in its memory),
with the local token, which counts as admin."""

from __future__ import annotations

import argparse

from cli.context import Context
from cli.service_call import call_service


def run(ctx: Context, args: argparse.Namespace) -> int:
    from core.discovery import read_service_url

    data_dir = ctx.data_dir
    base = read_service_url(data_dir)
    if base is None:
        print(ctx.tr._("error: no service is running on {path} (start it: agent.py serve)").format(path=data_dir.root),
              file=ctx.stderr)
        return 1
    method, path = {"pending": ("GET", "/api/pairing/pending"), "list": ("GET", "/api/extensions"),
                    "revoke": ("DELETE", f"/api/extensions/{getattr(args, 'id', 0)}")}[args.pair_command]
    body = call_service(ctx, base, method, path)
    if body is None:
        return 1
    if args.pair_command == "revoke":
        print(ctx.tr._("extension {id} revoked").format(id=args.id), file=ctx.stdout)
        return 0
    items = body["items"]
    if args.pair_command == "pending":
        print_lines(ctx, [pending_line(p) for p in items],
                    when_empty=ctx.tr._("no pairing pending (start one from the extension's options page)"))
    else:
        print_lines(ctx, [paired_line(e) for e in items], when_empty=ctx.tr._("no browser extension paired"))
    return 0


def pending_line(p: dict) -> str:
    return (f"code {p['code']}\t{p['name']} ({p['browser']})\t{p['origin']}\texpires {p['expires_at']}\t"
            f"tries left {p['tries_left']}\tid {p['pairing_id']}")


def paired_line(e: dict) -> str:
    return (f"{e['id']}\t{e['state']}\t{e['name']} ({e['browser']})\t{e['origin']}\tpaired {e['paired_at']}\t"
            f"last seen {e['last_seen_at'] or '-'}")


def print_lines(ctx: Context, lines: list[str], when_empty: str) -> None:
    for line in lines or [when_empty]:
        print(line, file=ctx.stdout)
