"""The per-process context every command receives: the data directory, the settings (config file plus environment
overrides, loaded once), a database factory and the standard streams. Made once in agent.py from the common
options, declared once here (the way HTTPie passes its Environment everywhere; tests make one with their own
environ and streams).

The database modules are imported when a command first opens the database (lazy, for start-up time: `config
check` and `pair` never load SQLAlchemy, and `serve` must patch gevent before they are imported).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.config import Config, ConfigError, load_effective_config
from core.paths import DataDir, resolve_data_dir

if TYPE_CHECKING:  # type hints only: storage and Babel are imported lazily (see above)
    from core.i18n import Translator
    from storage.database import Database


@dataclass(frozen=True)
class Context:
    data_dir: DataDir  # resolved, not created: the commands that write there call data_dir.ensure()
    config_file: Path
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    @classmethod
    def from_options(cls, data_dir: str | None = None, config: str | None = None,
                     environ: Mapping[str, str] | None = None, **streams: TextIO) -> Context:
        """--data-dir, then $CRM_AGENT_HOME, then the per-user data directory; --config, else its config.json."""
        environ = os.environ if environ is None else environ
        root = DataDir(resolve_data_dir(data_dir, environ))
        config_file = Path(config).expanduser() if config else root.config_file
        return cls(root, config_file, environ, **streams)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        """From the parsed common options (commands without them get the defaults)."""
        return cls.from_options(getattr(args, "data_dir", None), getattr(args, "config", None))

    @cached_property
    def config(self) -> Config:
        """The settings, loaded on first use and then kept; raises ConfigError (each command says it its way)."""
        return load_effective_config(self.config_file, self.environ)

    @cached_property
    def tr(self) -> Translator:
        """The user's language for what a person reads (ui.language; the system's while the settings cannot be
        read, e.g. to say that config.json is invalid). Imported here: Babel is not loaded by commands that print
        nothing translated before they exec (`serve`'s gevent patch comes first)."""
        from core.i18n import translator_for

        try:
            setting = self.config["ui.language"]
        except ConfigError:
            setting = "auto"
        return translator_for(setting, self.environ)

    @property
    def database_url(self) -> str:
        from runtime.build import service_database_url  # lazy: see the module's docstring

        return service_database_url(self.config, self.data_dir)

    def open_database(self) -> Database:
        """The service's database as the settings name it (close it when done)."""
        from runtime.build import open_database  # lazy: see the module's docstring

        return open_database(self.config, self.data_dir)
