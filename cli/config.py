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
        print(f"{path}: invalid: {exc}", file=ctx.stderr)
        return 1
    if args.config_command == "show":
        print(json.dumps(config.as_sections(), indent=2), file=ctx.stdout)
    else:
        print(f"{path}: ok" if path.exists() else f"{path}: not present; defaults apply", file=ctx.stdout)
    return 0
