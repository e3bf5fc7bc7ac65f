"""`agent.py config check | show`: validate config.json, or print the effective settings."""

from __future__ import annotations

import argparse
import json

from cli.context import Context
from core.config import ConfigError


def run(ctx: Context, args: argparse.Namespace) -> int:
    path = ctx.config_file
    try:
        config = ctx.config
    except ConfigError as exc:
        print(ctx.tr._("{path}: invalid: {error}").format(path=path, error=exc), file=ctx.stderr)
        return 1
    if args.config_command == "show":
        print(json.dumps(config.as_sections(), indent=2), file=ctx.stdout)
    else:
        line = ctx.tr._("{path}: ok") if path.exists() else ctx.tr._("{path}: not present; defaults apply")
        print(line.format(path=path), file=ctx.stdout)
    return 0
