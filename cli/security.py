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
from cli.service_call import call_service
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
    print(ctx.tr._("JWT signing key rotated; every access token issued before has ended"), file=ctx.stdout)
    return 0


def rotate_through_service(ctx: Context) -> int:
    data_dir = ctx.data_dir
    base = service_url(data_dir)
    if base is None:
        print(ctx.tr._("error: a service holds this data directory but does not say where it listens ({file}); "
                       "stop it or try again").format(file=data_dir.service_info_file), file=ctx.stderr)
        return 1
    refusal = ctx.tr._("the service refused to rotate the key: ")
    if call_service(ctx, base, "POST", "/api/security/rotate-keys", refusal) is None:
        return 1
    print(ctx.tr._("JWT signing key rotated by the service at {url}; every access token issued before has ended")
          .format(url=base), file=ctx.stdout)
    return 0
