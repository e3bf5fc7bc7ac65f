"""The dispatch table of the commands that take the common options: name -> run(ctx, args)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cli import backup, config, hub, init, pair, security, serve, sync, user
from cli.context import Context

Command = Callable[[Context, argparse.Namespace], int]

COMMANDS: dict[str, Command] = {
    "serve": serve.run,
    "sync": sync.run,
    "hub": hub.run,
    "user": user.run,
    "security": security.run,
    "config": config.run,
    "backup": backup.run,
    "pair": pair.run,
    "init": init.run,
}
