"""`agent.py security rotate-keys`: a new JWT signing key; every access token issued before ends.

The local token (tray, windows, this command line) and paired browser extensions' tokens are not JWTs: they keep
working. Like `backup restore`, it goes through the running service when there is one (the service holds the key
in memory and must switch without a restart): POST /api/security/rotate-keys with the local token. Without a
service, it replaces the key file here under the data directory's lock, so a service started meanwhile waits and
then reads the new key.
"""

from __future__ import annotations

import argparse

from cli.backup import service_url
from cli.context import Context
from core.oslock import FileLock


def run(ctx: Context, args: argparse.Namespace) -> int:
    ctx.data_dir.ensure()
    lock = FileLock(ctx.data_dir.service_lock_file)
    if lock.try_acquire():
        try:
            return rotate_here(ctx)
        finally:
            lock.release()
    return rotate_through_service(ctx)


def rotate_here(ctx: Context) -> int:
    from core.secrets_store import replace_secret

    replace_secret(ctx.data_dir.jwt_secret_file, 32)
    print("JWT signing key rotated; every access token issued before has ended", file=ctx.stdout)
    return 0


def rotate_through_service(ctx: Context) -> int:
    from desktop.service_client import ServiceClient, ServiceUnavailable

    data_dir = ctx.data_dir
    base = service_url(data_dir)
    if base is None:
        print("error: a service holds this data directory but does not say where it listens "
              f"({data_dir.service_info_file}); stop it or try again", file=ctx.stderr)
        return 1
    client = ServiceClient(lambda: base, data_dir.local_token_file)
    try:
        reply = client.request("POST", "/api/security/rotate-keys")
    except ServiceUnavailable as exc:
        print(f"error: the service at {base} did not answer: {exc}", file=ctx.stderr)
        return 1
    if reply.status != 200:
        message = ((reply.body or {}).get("error") or {}).get("message", f"HTTP {reply.status}")
        print(f"error: the service refused to rotate the key: {message}", file=ctx.stderr)
        return 1
    print(f"JWT signing key rotated by the service at {base}; every access token issued before has ended",
          file=ctx.stdout)
    return 0
