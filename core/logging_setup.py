"""Logging for every process: a rotating file plus stderr, with secrets scrubbed from every line and control
characters escaped in every message, so a value a client sent (a path, a username, an extension name) can never
start a forged line of its own."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
import time
from pathlib import Path

from core.untrusted import loggable

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:token|password|secret|access_token)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"),  # a JWT anywhere
)
# A word every pattern above needs, lower-cased: an ASCII line (a request-log line) without any of them skips the
# three substitutions. Only ASCII: (?i) also matches non-ASCII letters that lower() does not fold (U+017F to "s").
_SECRET_WORDS = ("bearer", "token", "password", "secret", "eyj")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def scrub(text: str) -> str:
    if text.isascii():
        folded = text.lower()
        if not any(word in folded for word in _SECRET_WORDS):
            return text
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


class BufferedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler that writes on a short timer instead of on every record.

    The stock handler formats each record twice (once to decide on rotation), stats the file twice and writes
    and flushes it: ~50 us of a capture's CPU for one request-log line (bench/README.md, "Capture path, the
    live slice"). This one keeps formatted lines in memory and writes them together within flush_interval_s,
    at once for a WARNING or worse (a crash right after it must not lose it), when buffer_bytes have
    gathered, and on flush()/close() (logging.shutdown() at a clean exit, after the server stopped answering),
    so every request the service answered is in the file after a clean stop. Rotation is the stock handler's,
    decided line by line from one position read per write, so the files are the same as before.
    """

    def __init__(self, filename: Path, max_bytes: int, backup_count: int, *, flush_interval_s: float = 0.2,
                 buffer_bytes: int = 64 * 1024) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
        self.flush_interval_s = flush_interval_s
        self.buffer_bytes = buffer_bytes
        self._pending: list[str] = []
        self._pending_chars = 0
        self._closing = False
        self._lines_waiting = threading.Event()
        # A daemon: under gevent (the service) it is a greenlet; the final flush is logging.shutdown()'s.
        self._flusher = threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True)
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - a handler never raises into the caller (logging.Handler contract)
            self.handleError(record)
            return
        # handle() holds self.lock here.
        self._pending.append(line)
        self._pending_chars += len(line)
        if record.levelno >= logging.WARNING or self._pending_chars >= self.buffer_bytes or self._closing:
            self._write_pending()  # closed: no flush comes any more (the stock handler reopens and writes too)
        elif len(self._pending) == 1:
            self._lines_waiting.set()

    def flush(self) -> None:
        with self.lock:
            self._write_pending()
            super().flush()

    def close(self) -> None:
        with self.lock:
            self._closing = True
            self._write_pending()
        self._lines_waiting.set()
        super().close()

    def _flush_periodically(self) -> None:
        while not self._closing:
            self._lines_waiting.wait()
            self._lines_waiting.clear()
            time.sleep(self.flush_interval_s)  # let the lines of this interval gather
            self.flush()

    def _write_pending(self) -> None:
        """Write the gathered lines (caller holds self.lock), rotating where the stock handler would have."""
        if not self._pending:
            return
        lines, self._pending, self._pending_chars = self._pending, [], 0
        try:
            if self.stream is None:
                self.stream = self._open()
            # bpo-45401, as the stock handler: never rotate anything but a regular file (e.g. /dev/null).
            rotates = self.maxBytes > 0 and not (os.path.exists(self.baseFilename)
                                                 and not os.path.isfile(self.baseFilename))
            position = self.stream.seek(0, 2) if rotates else 0
            for line in lines:
                if rotates and position + len(line) >= self.maxBytes:
                    self.doRollover()
                    position = self.stream.tell()
                self.stream.write(line)
                position += len(line)
            self.stream.flush()
        except Exception:  # noqa: BLE001 - as above: a full disk must not fail a request
            self.handleError(logging.makeLogRecord({"msg": "could not write %d log lines", "args": (len(lines),)}))


def setup_logging(level: str, log_file: Path | None, max_bytes: int, backup_count: int,
                  to_stderr: bool = True, buffered: bool = False) -> None:
    """buffered: lines reach the file within BufferedRotatingFileHandler's interval, not at each record (the
    service, where the request log writes a line per request); WARNING and worse are written at once."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = ScrubbingFormatter(FORMAT)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler: logging.Handler
        if buffered:
            file_handler = BufferedRotatingFileHandler(log_file, max_bytes, backup_count)
        else:
            file_handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=max_bytes,
                                                                backupCount=backup_count, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    if to_stderr:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        root.addHandler(stream)
