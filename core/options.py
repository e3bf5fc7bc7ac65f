"""The command-line options every agent.py process that works on a data directory declares, declared once.

The commands (cli/), the desktop agent (tray/) and the windows (windows/) parse their own arguments in their
own processes; this keeps the spelling and help of the shared options in one place.
"""

from __future__ import annotations

import argparse


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --config, with the defaults every process resolves the same way (core/paths, core/config)."""
    parser.add_argument("--data-dir", help="data directory (default: $CRM_AGENT_HOME or the per-user data dir)")
    parser.add_argument("--config", help="config file (default: config.json in the data directory)")
