"""`agent.py pair pending | list | revoke ID`: asks the running service, where pairings live (in its memory),
with the local token, which counts as admin."""

from __future__ import annotations

import argparse

from cli.context import Context


def run(ctx: Context, args: argparse.Namespace) -> int:
    from core.discovery import read_service_url
    from core.service_client import ServiceClient, ServiceUnavailable

    data_dir = ctx.data_dir
    base = read_service_url(data_dir)
    if base is None:
        print(f"error: no service is running on {data_dir.root} (start it: agent.py serve)", file=ctx.stderr)
        return 1
    client = ServiceClient(lambda: base, data_dir.local_token_file)
    method, path = {"pending": ("GET", "/api/pairing/pending"), "list": ("GET", "/api/extensions"),
                    "revoke": ("DELETE", f"/api/extensions/{getattr(args, 'id', 0)}")}[args.pair_command]
    try:
        reply = client.request(method, path)
    except ServiceUnavailable as exc:
        print(f"error: the service at {base} did not answer: {exc}", file=ctx.stderr)
        return 1
    if reply.status != 200:
        message = ((reply.body or {}).get("error") or {}).get("message", f"HTTP {reply.status}")
        print(f"error: {message}", file=ctx.stderr)
        return 1
    if args.pair_command == "revoke":
        print(f"extension {args.id} revoked", file=ctx.stdout)
        return 0
    items = reply.body["items"]
    if args.pair_command == "pending":
        print_pending(ctx, items)
    else:
        print_paired(ctx, items)
    return 0


def print_pending(ctx: Context, pairings: list[dict]) -> None:
    if not pairings:
        print("no pairing pending (start one from the extension's options page)", file=ctx.stdout)
    for p in pairings:
        print(f"code {p['code']}\t{p['name']} ({p['browser']})\t{p['origin']}\texpires {p['expires_at']}\t"
              f"tries left {p['tries_left']}\tid {p['pairing_id']}", file=ctx.stdout)


def print_paired(ctx: Context, extensions: list[dict]) -> None:
    if not extensions:
        print("no browser extension paired", file=ctx.stdout)
    for e in extensions:
        print(f"{e['id']}\t{e['state']}\t{e['name']} ({e['browser']})\t{e['origin']}\tpaired {e['paired_at']}\t"
              f"last seen {e['last_seen_at'] or '-'}", file=ctx.stdout)
