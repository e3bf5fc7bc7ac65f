"""Where the agent keeps its files. One DataDir object is created from the CLI and passed around."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "crm-agent"
HOME_ENV = "CRM_AGENT_HOME"


def resolve_data_dir(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--data-dir wins, then $CRM_AGENT_HOME (in environ, by default os.environ), then the platform's per-user
    data directory."""
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = (os.environ if environ is None else environ).get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


# Every file an agent process creates (logs and their rotations, the database with its -wal/-shm, backups,
# markers) is the user's alone, 0600 (directories 0700); children inherit it. Set by each entry point.
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class DataDir:
    root: Path

    def ensure(self) -> DataDir:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        # The directory holds secrets (token, JWT key, admin password): keep it private.
        try:
            os.chmod(self.root, 0o700)
        except OSError:
            pass
        return self

    def tighten_permissions(self) -> int:
        """Take the group's and others' bits off every file and directory in the data directory (files written
        before the agent set its umask were 0644); returns how many changed. Symlinks are left alone."""
        changed = 0
        for folder, dirs, files in os.walk(self.root):
            for name in (*dirs, *files):
                path = os.path.join(folder, name)
                try:
                    mode = os.lstat(path).st_mode
                    if not stat.S_ISLNK(mode) and mode & 0o077:
                        os.chmod(path, stat.S_IMODE(mode) & ~0o077)
                        changed += 1
                except OSError:
                    pass
        return changed

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def database(self) -> Path:
        return self.root / "crm_agent.db"

    @property
    def clean_stop_file(self) -> Path:
        """Written at a clean stop, taken at the next start (storage/clean_stop.py)."""
        return self.root / "clean-stop.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "agent.log"

    @property
    def local_token_file(self) -> Path:
        return self.root / "local_token"

    @property
    def jwt_secret_file(self) -> Path:
        return self.root / "jwt_secret"

    @property
    def hub_token_file(self) -> Path:
        """The token this agent presents to its team hub (written by `agent.py sync set-token`)."""
        return self.root / "hub_token"

    @property
    def admin_password_file(self) -> Path:
        return self.root / "admin_password.txt"

    @property
    def service_info_file(self) -> Path:
        """Written by the running service: its pid and the port it listens on (for local clients)."""
        return self.root / "service.json"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def backup_key_file(self) -> Path:
        """The AES key of encrypted backups (0600), created with the first encrypted backup."""
        return self.root / "backup.key"

    @property
    def service_lock_file(self) -> Path:
        """Held by the running service, and by `agent.py backup restore` when no service runs."""
        return self.root / "service.lock"
