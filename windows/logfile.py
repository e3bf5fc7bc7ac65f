"""Read a growing, rotating log file in pieces, never whole: its tail first, older chunks on demand, new
bytes as they arrive (following a rotation or a truncation).

Pure file code (no Tk): the logs window calls it from one worker thread, so an instance is never used by
two threads at once. Offsets are byte positions of whole lines; the bytes after the last newline (a line
being written) wait for the next poll.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_NUMBERS = {name: number for number, name in enumerate(LEVELS)}
# core.logging_setup.FORMAT: "2026-11-29 19:42:20,123 INFO name: message"
_LEVEL_IN_LINE = re.compile(rb"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")

TAIL_BYTES = 256 * 1024
OLDER_BYTES = 256 * 1024
# Most bytes one poll reads; a bigger gap (a long pause, a burst) is skipped, and the skip is said in a line.
MAX_POLL_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LogLine:
    level: int  # index in LEVELS; lines without a level (tracebacks) take the level of the line before
    text: str


@dataclass
class Update:
    lines: list[LogLine] = field(default_factory=list)
    reset: bool = False  # the file was rotated or truncated: what is shown came from another file
    skipped_bytes: int = 0
    size: int = 0
    missing: bool = False


def parse_lines(data: bytes, previous_level: int = LEVEL_NUMBERS["INFO"]) -> list[LogLine]:
    """Split whole lines (data ends with a newline or is empty) and tag each with its level."""
    out = []
    level = previous_level
    for raw in data.split(b"\n")[:-1] if data else []:
        match = _LEVEL_IN_LINE.match(raw)
        if match:
            level = LEVEL_NUMBERS[match.group(1).decode()]
        out.append(LogLine(level, raw.rstrip(b"\r").decode("utf-8", errors="replace")))
    return out


class LogFile:
    """One log file followed by path: `open_tail()`, then `older()` and `poll()` as the window needs them."""

    def __init__(self, path: Path, tail_bytes: int = TAIL_BYTES, max_poll_bytes: int = MAX_POLL_BYTES) -> None:
        self.path = path
        self.tail_bytes = tail_bytes
        self.max_poll_bytes = max_poll_bytes
        self._file: BinaryIO | None = None
        self.start = 0  # offset of the oldest line read so far
        self.end = 0  # offset just after the newest whole line read so far
        self._last_level = LEVEL_NUMBERS["INFO"]

    @property
    def at_beginning(self) -> bool:
        return self.start == 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def open_tail(self) -> Update:
        """(Re)open the file and read its last `tail_bytes` (whole lines only)."""
        self.close()
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open to follow it across a rotation
        except FileNotFoundError:
            self.start = self.end = 0
            return Update(missing=True)
        size = os.fstat(self._file.fileno()).st_size
        self.start = self.end = max(0, size - self.tail_bytes)
        update = self._read_forward(size, skip_partial_first=self.start > 0)
        self.start = self._first_line_start
        update.size = size
        return update

    def older(self, max_bytes: int = OLDER_BYTES) -> list[LogLine]:
        """The lines just before what was read so far (at most max_bytes of them); [] at the beginning."""
        if self._file is None or self.start == 0:
            return []
        begin = max(0, self.start - max_bytes)
        self._file.seek(begin)
        data = self._file.read(self.start - begin)
        if begin > 0:
            cut = data.find(b"\n")
            if cut < 0:  # one line longer than max_bytes: read it whole rather than never get past it
                return self.older(max_bytes * 2)
            begin += cut + 1
            data = data[cut + 1:]
        self.start = begin
        return parse_lines(data, LEVEL_NUMBERS["INFO"])

    def poll(self) -> Update:
        """New whole lines since the last call. After a rotation (the path names a new file) the rest of the
        old file is read first; after a truncation the file is read again from its start."""
        if self._file is None:
            update = self.open_tail()
            update.reset = not update.missing
            return update
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        mine = os.fstat(self._file.fileno())
        if on_disk is None or (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino):
            return self._follow_rotation(mine.st_size, on_disk is not None)
        if on_disk.st_size < self.end:  # truncated in place (copytruncate, or a user emptied it)
            update = self.open_tail()
            update.reset = True
            return update
        update = self._read_forward(on_disk.st_size)
        update.size = on_disk.st_size
        return update

    def _follow_rotation(self, old_size: int, new_exists: bool) -> Update:
        rest = self._read_forward(old_size)  # what was written to the old file after our last poll
        if not new_exists:
            rest.size = old_size
            return rest
        self.close()
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return rest
        self.start = self.end = 0
        new = self._read_forward(os.fstat(self._file.fileno()).st_size)
        new.lines = rest.lines + new.lines
        new.skipped_bytes += rest.skipped_bytes
        new.size = self.end
        return new

    def _read_forward(self, size: int, skip_partial_first: bool = False) -> Update:
        assert self._file is not None
        update = Update()
        begin = self.end
        if size - begin > self.max_poll_bytes:
            update.skipped_bytes = size - self.tail_bytes - begin
            begin = size - self.tail_bytes
            skip_partial_first = True
        self._file.seek(begin)
        data = self._file.read(max(0, size - begin))
        self._first_line_start = begin
        if skip_partial_first and begin > 0:
            cut = data.find(b"\n")
            data = data[cut + 1:] if cut >= 0 else b""
            self._first_line_start = begin + (cut + 1 if cut >= 0 else 0)
        last_newline = data.rfind(b"\n")
        whole = data[:last_newline + 1] if last_newline >= 0 else b""
        self.end = self._first_line_start + len(whole)
        update.lines = parse_lines(whole, self._last_level)
        if update.lines:
            self._last_level = update.lines[-1].level
        return update


def log_files(logs_dir: Path, configured: str = "") -> list[Path]:
    """The log files the window offers: the service's (logging.file or logs/agent.log) first, then the
    other current logs in the data directory (tray.log, ui.log, service-child.log), no rotated copies."""
    main = Path(configured).expanduser() if configured else logs_dir / "agent.log"
    others = sorted(p for p in logs_dir.glob("*.log") if p != main) if logs_dir.is_dir() else []
    return [main, *others]
