"""`agent.py init`: the data directories, a default config.json when there is none, and the database (what the
installer runs; safe to repeat)."""

from __future__ import annotations

import argparse
from contextlib import closing

from cli.context import Context

# What the installer writes when there is no config.json yet: the one key most users edit (to let their
# browser extension in); everything else keeps its default (docs/config.md).
DEFAULT_CONFIG = {"security.extension_origins": []}


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Create what the agent needs in the data directory; never overwrite what is already there."""
    from core.clock import Clock, iso
    from core.config import ConfigError, save_overrides
    from storage.migrations import migrate

    data_dir = ctx.data_dir.ensure()
    for directory in (data_dir.backups, data_dir.models):
        directory.mkdir(parents=True, exist_ok=True)
    path = ctx.config_file
    if path.exists():
        print(ctx.tr._("config: {path} kept").format(path=path), file=ctx.stdout)
    else:
        save_overrides(path, DEFAULT_CONFIG)
        print(ctx.tr._("config: {path} written").format(path=path), file=ctx.stdout)
    try:
        db = ctx.open_database()  # reads the settings first: a bad config.json stops here, nothing opened
    except ConfigError as exc:
        print(ctx.tr._("{path}: invalid: {error}").format(path=path, error=exc), file=ctx.stderr)
        return 1
    with closing(db):
        version = migrate(db, iso(Clock().now()))
    print(ctx.tr._("database: {url} at schema version {version}").format(url=ctx.database_url, version=version),
          file=ctx.stdout)
    return 0
