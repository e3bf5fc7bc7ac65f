"""The logs window: follows a log file live, with a level filter, search, pause and copy.

It reads the files directly from disk, not through the API: the logs matter most when the service is down
(docs/decisions.md). Only the file's tail is read at first; older chunks are read when the user scrolls to
the top (or presses "Older lines"), so a 100 MB log opens as fast as a small one. All file work runs on
one worker thread of this window (LogFile is not shared between threads); the Tk thread only inserts text.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tkinter import ttk
from typing import Any

from core.i18n import N_
from windows.base import BaseWindow
from windows.host import WindowHost
from windows.logfile import LEVELS, LogFile, LogLine, Update, log_files
from windows.theme import PALETTE

log = logging.getLogger(__name__)

POLL_MS = 500
MAX_LINES = 50_000  # lines kept (and shown at most); older ones are dropped from the window, not the file
MAX_HIGHLIGHTS = 2000
LEVEL_COLOURS = {"DEBUG": PALETTE["muted"], "INFO": PALETTE["text"], "WARNING": PALETTE["warning"],
                 "ERROR": PALETTE["error_text"], "CRITICAL": PALETTE["error_text"]}


class LogsWindow(BaseWindow):
    name = "logs"
    title = N_("CRM Agent — Logs")
    default_size = (980, 640)

    def __init__(self, app: WindowHost) -> None:
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ui-logfile")
        self._lines: deque[LogLine] = deque(maxlen=MAX_LINES)
        self._file: LogFile | None = None
        self._generation = 0  # bumps when another file is opened: late results of the old one are dropped
        self._polling = False
        self._loading_older = False
        self.paused = False
        self.file_missing = False
        super().__init__(app)
        self._schedule_poll()

    # -- layout ---------------------------------------------------------------------------------------

    def build(self, parent: ttk.Frame) -> None:
        _ = self.tr._
        self.top.title(_(self.title))
        bar = ttk.Frame(parent)
        bar.pack(side="top", fill="x", pady=(0, 6))
        # Packed first so they keep their room when the window is narrow.
        # Widths in characters fit the longest translation of each button (Pause and Resume share one).
        self.copy_button = ttk.Button(bar, text=_("Copy"), width=_button_width(_("Copy")), command=self.copy)
        self.copy_button.pack(side="right")
        self.pause_button = ttk.Button(bar, text=_("Pause"), width=_button_width(_("Pause"), _("Resume")),
                                       command=self.toggle_pause)
        self.pause_button.pack(side="right", padx=(0, 6))
        self.older_button = ttk.Button(bar, text=_("Older lines"), width=_button_width(_("Older lines")),
                                       command=self.load_older)
        self.older_button.pack(side="right", padx=(0, 6))
        ttk.Label(bar, text=_("File")).pack(side="left")
        self.file_choice = ttk.Combobox(bar, state="readonly", width=16)
        self.file_choice.pack(side="left", padx=(4, 8))
        self.file_choice.bind("<<ComboboxSelected>>", lambda _e: self.open_file(self.chosen_file()))
        ttk.Label(bar, text=_("Level")).pack(side="left")
        self.level_var = tk.StringVar(value=self.app.state.get("logs.level", "DEBUG"))
        self.level_choice = ttk.Combobox(bar, state="readonly", width=8, values=LEVELS[:4],
                                         textvariable=self.level_var)
        self.level_choice.pack(side="left", padx=(4, 8))
        self.level_choice.bind("<<ComboboxSelected>>", lambda _e: self.set_level(self.level_var.get()))
        ttk.Label(bar, text=_("Search")).pack(side="left")
        self.search_var = tk.StringVar()
        self.search_entry = ttk.Entry(bar, textvariable=self.search_var, width=16)
        self.search_entry.pack(side="left", padx=(4, 2))
        self.search_entry.bind("<Return>", lambda _e: self.find(forward=True))
        self.search_entry.bind("<Shift-Return>", lambda _e: self.find(forward=False))
        self.search_entry.bind("<Escape>", lambda _e: self.clear_search())
        ttk.Button(bar, text="▲", width=2, command=lambda: self.find(forward=False)).pack(side="left")
        ttk.Button(bar, text="▼", width=2, command=lambda: self.find(forward=True)).pack(side="left")
        self.match_label = ttk.Label(bar, style="Muted.TLabel", width=14)
        self.match_label.pack(side="left", padx=(4, 0))

        self.file_status = ttk.Label(parent, style="Muted.TLabel", anchor="w")
        self.file_status.pack(side="bottom", fill="x", pady=(4, 0))
        self.empty = ttk.Label(parent, style="Empty.TLabel", anchor="center")
        frame = ttk.Frame(parent)
        frame.pack(side="top", fill="both", expand=True)
        self.text_frame = frame
        self.text = tk.Text(frame, wrap="none", font="TkFixedFont", background=PALETTE["surface"],
                            foreground=PALETTE["text"], relief="flat", borderwidth=1, highlightthickness=0,
                            undo=False, cursor="arrow")
        yscroll = ttk.Scrollbar(frame, orient="vertical", command=self.text.yview)
        xscroll = ttk.Scrollbar(frame, orient="horizontal", command=self.text.xview)
        self.text.configure(yscrollcommand=yscroll.set, xscrollcommand=xscroll.set)
        yscroll.pack(side="right", fill="y")
        xscroll.pack(side="bottom", fill="x")
        self.text.pack(side="left", fill="both", expand=True)
        for level, colour in LEVEL_COLOURS.items():
            self.text.tag_configure(level, foreground=colour)
        self.text.tag_configure("match", background="#ffe066")
        self.text.tag_configure("current", background=PALETTE["warning"], foreground="#ffffff")
        self.text.tag_raise("sel")
        self._make_read_only()
        self.text.bind("<MouseWheel>", self._wheel, add="+")
        self.text.bind("<Button-4>", self._wheel, add="+")
        for sequence, handler in (("<Control-f>", self._focus_search), ("<F3>", lambda _e: self.find(True)),
                                  ("<Shift-F3>", lambda _e: self.find(False)), ("<Control-c>", self._copy_key),
                                  ("<Escape>", lambda _e: self.clear_search()),
                                  ("<Control-p>", lambda _e: self.toggle_pause())):
            self.top.bind(sequence, handler)
        self._files = log_files(self.app.data_dir.logs, self._configured_log_file())
        self.file_choice.configure(values=[self._file_label(p) for p in self._files])
        self.file_choice.current(0)
        self.top.bind("<F5>", lambda _e: self.reload())

    def _make_read_only(self) -> None:
        # A normal-state Text keeps selection, Ctrl+C and keyboard scrolling; edits are swallowed.
        def block(_event: tk.Event) -> str:
            return "break"

        for sequence in ("<Key>", "<<Paste>>", "<<Cut>>", "<<Clear>>", "<Button-2>"):
            self.text.bind(sequence, block)
        for allowed in ("<Control-c>", "<Control-a>", "<Prior>", "<Next>", "<Up>", "<Down>", "<Left>", "<Right>",
                        "<Home>", "<End>", "<Control-Home>", "<Control-End>", "<Control-f>", "<F3>", "<Shift-F3>",
                        "<Escape>", "<Control-w>", "<Control-q>", "<Control-p>", "<F5>"):
            self.text.bind(allowed, lambda _e: None)

    def _configured_log_file(self) -> str:
        config = self.app.config
        try:
            return config["logging.file"] if config is not None else ""
        except KeyError:
            return ""

    def chosen_file(self) -> Path:
        return self._files[max(0, self.file_choice.current())]

    def _file_label(self, path: Path) -> str:
        return path.name if path.parent == self.app.data_dir.logs else str(path)

    # -- file reading (worker thread) and showing (Tk thread) -------------------------------------------

    def open_file(self, path: Path) -> None:
        self._generation += 1
        generation = self._generation
        old = self._file
        self._file = LogFile(path)
        self._lines.clear()
        self.text.delete("1.0", "end")
        self.file_status.configure(text=self.tr._("Reading {file}…").format(file=path))

        file = self._file

        def work() -> Update:
            if old is not None:
                old.close()
            return file.open_tail()

        self._submit(work, lambda update: self._show_first(update, generation))

    def _submit(self, work: Any, on_done: Any) -> None:
        ui = self.app.ui

        def run() -> None:
            try:
                result = work()
            except OSError as exc:
                ui.post(lambda error=exc: self._show_error(error))
                return
            ui.post(lambda: None if self.closed else on_done(result))

        try:
            self._io.submit(run)
        except RuntimeError:  # the window closed meanwhile
            pass

    def _show_first(self, update: Update, generation: int) -> None:
        if generation != self._generation:
            return
        self._lines.clear()
        self.text.delete("1.0", "end")
        self._apply(update)
        self._scroll_to_end_when_drawn()

    def _scroll_to_end_when_drawn(self) -> None:
        # see() before the Text has its size scrolls by the wrong amount; again once Tk has laid it out.
        self.text.see("end")
        self.top.after_idle(lambda: None if self.closed else self.text.see("end"))

    def _apply(self, update: Update) -> None:
        """Show what a poll returned (Tk thread)."""
        self.file_missing = update.missing
        if update.missing:
            self._show_empty(self.tr._("No log file yet at {file}.\nIt appears when the process writing it "
                                       "starts.").format(file=self._file.path if self._file else "?"))
            self._update_status()
            return
        self._hide_empty()
        if update.reset:
            self._lines.clear()
            self.text.delete("1.0", "end")
        lines = update.lines
        if update.skipped_bytes:
            lines = [LogLine(LEVELS.index("WARNING"), self.tr._(
                "… {size} MB skipped (written while paused or in a burst) …").format(
                    size=self.tr.decimal(update.skipped_bytes / 1e6, 1))), *lines]
        self._append(lines)
        self._update_status(update.size)

    def _append(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        at_bottom = self.text.yview()[1] >= 0.999
        self._lines.extend(lines)
        minimum = self.min_level
        shown = [line for line in lines if line.level >= minimum]
        if shown:
            first_line = self._line_after_last()
            self.text.insert("end-1c", "".join(f"{line.text}\n" for line in shown))
            self._tag_levels(first_line, shown)
            needle = self.search_var.get()
            if needle:
                self._highlight_from(f"{first_line}.0", needle)
            self._trim()
        if at_bottom:
            self.text.see("end")

    def _line_after_last(self) -> int:
        """The number the next appended line will have (every shown line ends with a newline)."""
        return int(self.text.index("end-1c").split(".")[0])

    def _tag_levels(self, first_line: int, lines: list[LogLine]) -> None:
        run_start = 0
        for i in range(1, len(lines) + 1):
            if i == len(lines) or lines[i].level != lines[run_start].level:
                self.text.tag_add(LEVELS[lines[run_start].level], f"{first_line + run_start}.0",
                                  f"{first_line + i}.0")
                run_start = i

    def _trim(self) -> None:
        excess = int(self.text.index("end-1c").split(".")[0]) - 1 - MAX_LINES
        if excess > 0:
            self.text.delete("1.0", f"{excess + 1}.0")

    def _render_all(self) -> None:
        """Show the kept lines again (after a level change)."""
        minimum = self.min_level
        shown = [line for line in self._lines if line.level >= minimum]
        self.text.delete("1.0", "end")
        if shown:
            self.text.insert("1.0", "".join(f"{line.text}\n" for line in shown))
            self._tag_levels(1, shown)
        self._scroll_to_end_when_drawn()
        self._highlight_all()

    def _show_empty(self, message: str) -> None:
        self.empty.configure(text=message)
        if not self.empty.winfo_manager():
            self.text_frame.pack_forget()
            self.empty.pack(side="top", fill="both", expand=True)

    def _hide_empty(self) -> None:
        if self.empty.winfo_manager():
            self.empty.pack_forget()
            self.text_frame.pack(side="top", fill="both", expand=True)

    def _show_error(self, exc: Exception) -> None:
        if not self.closed:
            self._show_empty(self.tr._("Cannot read the log file: {reason}").format(reason=exc))
            self.say(str(exc))

    def _update_status(self, size: int | None = None) -> None:
        if self._file is None:
            return
        parts = [str(self._file.path)]
        if size is not None:
            self._size = size
        _ = self.tr._
        if getattr(self, "_size", None) is not None and not self.file_missing:
            parts.append(_("{size} MB").format(size=self.tr.decimal(self._size / 1e6, 1)) if self._size >= 100_000
                         else _("{size} kB").format(size=self.tr.decimal(self._size / 1e3, 1)))
        parts.append(self.tr.n_("{n} line shown", "{n} lines shown", self.visible_line_count()))
        if not self._file.at_beginning:
            parts.append(_("older lines: scroll up"))
        parts.append(_("paused") if self.paused else _("following"))
        self.file_status.configure(text="  ·  ".join(parts))

    # -- following -----------------------------------------------------------------------------------------

    def _schedule_poll(self) -> None:
        if not self.closed:
            self._poll_after = self.top.after(POLL_MS, self._poll)

    def _poll(self) -> None:
        if self.closed:
            return
        if not self.paused and not self._polling and self._file is not None:
            self._polling = True
            generation = self._generation

            def done(update: Update) -> None:
                self._polling = False
                if generation == self._generation:
                    self._apply(update)

            self._submit(self._file.poll, done)
        self._schedule_poll()

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        self.pause_button.configure(text=self.tr._("Resume") if self.paused else self.tr._("Pause"))
        self._update_status()

    # -- older lines ---------------------------------------------------------------------------------------

    def _wheel(self, event: tk.Event) -> None:
        scrolling_up = getattr(event, "num", None) == 4 or getattr(event, "delta", 0) > 0
        if scrolling_up and self.text.yview()[0] <= 0.0:
            self.load_older()

    def load_older(self) -> None:
        if self._loading_older or self._file is None or self._file.at_beginning or len(self._lines) >= MAX_LINES:
            return
        self._loading_older = True
        generation = self._generation

        def done(lines: list[LogLine]) -> None:
            self._loading_older = False
            if generation == self._generation:
                self._prepend(lines)

        self._submit(self._file.older, done)

    def _prepend(self, lines: list[LogLine]) -> None:
        room = MAX_LINES - len(self._lines)
        lines = lines[-room:] if room > 0 else []
        if not lines:
            return
        self._lines.extendleft(reversed(lines))
        minimum = self.min_level
        shown = [line for line in lines if line.level >= minimum]
        if shown:
            self.text.insert("1.0", "".join(f"{line.text}\n" for line in shown))
            self._tag_levels(1, shown)
            self.text.yview(f"{len(shown) + 1}.0")  # keep the line the user was looking at in place
            self._highlight_all()
        self._update_status()

    # -- level filter ----------------------------------------------------------------------------------------

    @property
    def min_level(self) -> int:
        return LEVELS.index(self.level_var.get()) if self.level_var.get() in LEVELS else 0

    def set_level(self, level: str) -> None:
        self.level_var.set(level)
        self.app.state.set("logs.level", level)
        self._render_all()
        self._update_status()

    def visible_lines(self) -> list[str]:
        content = self.text.get("1.0", "end-1c")
        return content.split("\n")[:-1] if content else []

    def visible_line_count(self) -> int:
        return int(self.text.index("end-1c").split(".")[0]) - 1

    # -- search ----------------------------------------------------------------------------------------------

    def _focus_search(self, _event: tk.Event | None = None) -> str:
        self.search_entry.focus_set()
        self.search_entry.select_range(0, "end")
        return "break"

    def clear_search(self) -> None:
        self.search_var.set("")
        self.text.tag_remove("match", "1.0", "end")
        self.text.tag_remove("current", "1.0", "end")
        self.match_label.configure(text="")

    def _highlight_all(self) -> int:
        self.text.tag_remove("match", "1.0", "end")
        needle = self.search_var.get()
        if not needle:
            return 0
        return self._highlight_from("1.0", needle)

    def _highlight_from(self, start: str, needle: str) -> int:
        count = tk.IntVar()
        index = start
        found = 0
        while found < MAX_HIGHLIGHTS:
            index = self.text.search(needle, index, "end", nocase=True, count=count)
            if not index:
                break
            end = f"{index}+{count.get()}c"
            self.text.tag_add("match", index, end)
            index = end
            found += 1
        return found

    def find(self, forward: bool = True) -> bool:
        """Highlight every match and move to the next (or previous) one; False when there is none."""
        needle = self.search_var.get()
        if not needle:
            return False
        total = self._highlight_all()
        current = self.text.tag_ranges("current")
        self.text.tag_remove("current", "1.0", "end")
        if forward:
            start = str(current[1]) if current else "1.0"
            index = self.text.search(needle, start, "end", nocase=True) or self.text.search(needle, "1.0", "end",
                                                                                              nocase=True)
        else:
            start = str(current[0]) if current else "end"
            index = self.text.search(needle, start, "1.0", nocase=True, backwards=True) or self.text.search(
                needle, "end", "1.0", nocase=True, backwards=True)
        if not index:
            self.match_label.configure(text=self.tr._("no match"))
            return False
        self.text.tag_add("current", index, f"{index}+{len(needle)}c")
        self.text.see(index)
        if total >= MAX_HIGHLIGHTS:
            self.match_label.configure(text=self.tr._("{n}+ matches").format(n=self.tr.integer(total)))
        else:
            self.match_label.configure(text=self.tr.n_("{n} match", "{n} matches", total))
        return True

    # -- copy ---------------------------------------------------------------------------------------------------

    def _copy_key(self, _event: tk.Event) -> str:
        if self.top.focus_get() is self.search_entry:
            return ""  # the entry copies its own selection
        self.copy()
        return "break"

    def copy(self) -> str:
        """Copy the selection, or every line shown when nothing is selected; returns what was copied."""
        try:
            content = self.text.get("sel.first", "sel.last")
            said = self.tr._("Copied the selection to the clipboard.")
        except tk.TclError:
            content = self.text.get("1.0", "end-1c")
            said = self.tr.n_("Copied {n} line to the clipboard.", "Copied {n} lines to the clipboard.",
                              self.visible_line_count())
        self.top.clipboard_clear()
        self.top.clipboard_append(content)
        self.say(said)
        return content

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """The first time (and not again when the service comes back: the file does not come from it)."""
        if self._file is None:
            self.open_file(self._files[0])

    def reload(self) -> None:
        """F5: read the file again from its tail."""
        if self._file is not None:
            self.open_file(self._file.path)

    def close(self) -> None:
        if self.closed:
            return
        file = self._file
        self._io.submit(lambda: file.close() if file is not None else None)
        # Wait for the reads in flight: they hold this window, and a worker must never be the one that
        # frees the Tk objects (windows/calls.py, BackgroundCalls.shutdown). Local file reads are short.
        self._io.shutdown(wait=True, cancel_futures=False)
        super().close()


def _button_width(*texts: str) -> int:
    """A button's width in characters: its longest text plus a little room (never narrower than before)."""
    return max(6, *(len(text) + 2 for text in texts))
