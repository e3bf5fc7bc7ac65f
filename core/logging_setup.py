"""Logging for every process: a rotating file plus stderr, with secrets scrubbed from every line and control
characters escaped in every message, so a value a client sent (a path, a username, an extension name) can never
start a forged line of its own."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from core.untrusted import loggable

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:token|password|secret|access_token)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"),  # a JWT anywhere
)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def scrub(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


def render_message(record: logging.LogRecord) -> str:
    """A record's message as it may be stored: on one line (control characters escaped), secrets scrubbed."""
    return scrub(loggable(record.getMessage()))


class ScrubbingFormatter(logging.Formatter):
    """Escapes the rendered message (the format string with every argument in it: the one place no log call
    can forget) before the line is built; a traceback below it keeps its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = loggable(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup_logging(level: str, log_file: Path | None, max_bytes: int, backup_count: int,
                  to_stderr: bool = True) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = ScrubbingFormatter(FORMAT)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=max_bytes,
                                                            backupCount=backup_count, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    if to_stderr:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        root.addHandler(stream)
