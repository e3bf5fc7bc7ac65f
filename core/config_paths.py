"""The rules for file paths in settings (core.config file_path(READ | WRITE)).

Through PUT /api/system/config (check_path_change): a file the service WRITES (logging.file, database.path) must
resolve, symlinks followed, inside the data directory, and must not be one of the service's own other files
(secrets, config, backups, models, the database for the log and the log for the database); a file it only READS
(TLS certificate and key, the hub's CA, a GGUF model) must be an existing, readable regular file of the
expected kind, wherever the user keeps it. A file picked outside the data directory for writing can only be set
in config.json by the user (or CRM_AGENT__* environment variables), never through the API.

At start-up (startup_path_problem): the same kinds, without the data-directory rule, so a directory, FIFO or
device named in config.json is a one-line config error instead of a hang or a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.config import READ, WRITE, Config, Setting
from core.paths import DataDir

URL_PREFIXES = ("postgresql:", "postgres:")  # database.path may name a PostgreSQL database (a hub)
# What a file read through a setting must start with (within its first bytes).
_MARKERS = {"ai.model_path": (b"GGUF", 4), "server.tls_cert_file": (b"-----BEGIN ", 65536),
            "server.tls_key_file": (b"-----BEGIN ", 65536), "sync.ca_file": (b"-----BEGIN ", 65536)}
_KIND = {"ai.model_path": "a GGUF model", "server.tls_cert_file": "a PEM file", "server.tls_key_file": "a PEM file",
         "sync.ca_file": "a PEM file"}


def path_access(setting: Setting) -> str | None:
    """READ or WRITE for a path-valued setting, else None."""
    return getattr(setting.validate, "spec", {}).get("path")


def _within(path: str, root: str) -> bool:
    return path != root and os.path.commonpath([path, root]) == root


def _reserved(key: str, data_dir: DataDir) -> tuple[set[str], list[str]]:
    """Files and directories in the data directory a written setting must never name."""
    files = [data_dir.config_file, data_dir.local_token_file, data_dir.jwt_secret_file, data_dir.hub_token_file,
             data_dir.admin_password_file, data_dir.service_info_file, data_dir.backup_key_file,
             data_dir.service_lock_file, data_dir.logs / "tray.log", data_dir.logs / "ui.log"]
    if key == "logging.file":
        files += [data_dir.database, Path(f"{data_dir.database}-wal"), Path(f"{data_dir.database}-shm")]
    else:
        files.append(data_dir.log_file)
    dirs = [data_dir.backups, data_dir.models]
    return {os.path.realpath(f) for f in files}, [os.path.realpath(d) for d in dirs]


def _check_written(key: str, value: str, data_dir: DataDir) -> None:
    if key == "database.path" and value.startswith(URL_PREFIXES):
        return
    if value.startswith("sqlite:"):
        raise ValueError("give the SQLite file's path, not a sqlite: URL")
    if not os.path.isabs(value):
        raise ValueError("must be an absolute path inside the data directory")
    if ".." in Path(value).parts:
        raise ValueError("must not contain '..'")
    root = os.path.realpath(data_dir.root)
    real = os.path.realpath(value)
    if not _within(real, root):
        raise ValueError(f"the service writes this file: it must be inside the data directory {data_dir.root} "
                         "(symlinks are followed)")
    files, dirs = _reserved(key, data_dir)
    if real in files or any(real == d or _within(real, d) for d in dirs):
        raise ValueError("names a file the service keeps for something else")
    if os.path.lexists(real) and not os.path.isfile(real):
        raise ValueError("exists and is not a regular file")


def _check_read(key: str, value: str, require_absolute: bool) -> None:
    if require_absolute and not os.path.isabs(value):
        raise ValueError("must be an absolute path")
    try:
        info = os.stat(value)
    except FileNotFoundError:
        raise ValueError(f"no such file {value}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {value}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("must be a regular file (not a directory, device or FIFO)")
    marker = _MARKERS.get(key)
    if marker is None:
        return
    expected, window = marker
    try:
        with open(value, "rb") as f:  # read-only, and only its first bytes
            head = f.read(window)
    except OSError as exc:
        raise ValueError(f"cannot read {value}: {exc.strerror}") from None
    if (not head.startswith(expected)) if expected == b"GGUF" else (expected not in head):
        raise ValueError(f"is not {_KIND[key]}")


def check_path_change(setting: Setting, value: str, data_dir: DataDir) -> None:
    """The API's rules for a new value of a path-valued setting; ValueError says what is wrong."""
    access = path_access(setting)
    if access is None or not value:
        return
    if access == WRITE:
        _check_written(setting.key, value, data_dir)
    elif access == READ:
        _check_read(setting.key, value, require_absolute=True)


def startup_path_problem(config: Config) -> str | None:
    """'key: message' for the first read file named in the settings that exists but is not a regular file (a
    directory, FIFO or device: opening it would hang or fail later with a traceback), or a TLS file that does
    not exist (the server cannot start without it), else None. A missing model or CA file is reported where
    it is used (the LLM is unavailable, a sync round fails), as before."""
    from core.config import SETTINGS

    for setting in SETTINGS:
        value = config[setting.key]
        if path_access(setting) != READ or not value:
            continue
        expanded = os.path.expanduser(value)
        if setting.key.startswith("server.tls_") and not os.path.exists(expanded):
            return f"{setting.key}: no such file {value}"
        if os.path.exists(expanded) and not os.path.isfile(expanded):
            return f"{setting.key}: {value} is not a regular file (a directory, device or FIFO)"
    return None
