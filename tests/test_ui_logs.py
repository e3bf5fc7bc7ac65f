"""The logs window under Xvfb: tail first, follows growth, rotation and truncation, level filter, search, copy,
a 100 MB file opened without reading it whole; LogFile's reading on its own."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers import start_service
from tests.ui_helpers import UiHarness
from windows.logfile import LEVELS, LogFile

LEVEL_CYCLE = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_line(n: int, level: str = "INFO", text: str = "") -> str:
    return f"2026-11-29 10:{n // 60 % 60:02d}:{n % 60:02d},{n % 1000:03d} {level} crm_agent.test: line {n} {text}\n"


def write_lines(path: Path, numbers: range, levels: tuple[str, ...] = ("INFO",), mode: str = "a") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode, encoding="utf-8") as f:
        f.writelines(log_line(n, levels[n % len(levels)]) for n in numbers)


@pytest.fixture
def ui(display, tmp_path):
    harness = UiHarness(tmp_path / "agent", display)
    yield harness
    harness.close()


def shown(window) -> list[str]:
    return window.visible_lines()


# -- LogFile alone ---------------------------------------------------------------------------------------


def test_logfile_reads_the_tail_then_older_chunks_back_to_the_start(tmp_path):
    path = tmp_path / "a.log"
    write_lines(path, range(5000))
    file = LogFile(path, tail_bytes=10_000)
    first = file.open_tail()
    assert first.lines[-1].text.startswith("2026") and "line 4999 " in first.lines[-1].text
    assert len(first.lines) < 200 and not file.at_beginning
    texts = [line.text for line in first.lines]
    while not file.at_beginning:
        texts = [line.text for line in file.older(20_000)] + texts
    assert texts == path.read_text().splitlines()


def test_logfile_waits_for_a_partial_line_and_tags_tracebacks_with_their_level(tmp_path):
    path = tmp_path / "a.log"
    path.write_text(log_line(1, "ERROR") + "Traceback (most recent call last):\n  boom\n" + "2026-11-29 10:00:02,0")
    file = LogFile(path)
    update = file.open_tail()
    assert [LEVELS[line.level] for line in update.lines] == ["ERROR", "ERROR", "ERROR"]
    with open(path, "a") as f:
        f.write("00 INFO x: done\n")
    assert [line.text for line in file.poll().lines] == ["2026-11-29 10:00:02,000 INFO x: done"]
    assert file.poll().lines == []


def test_logfile_reads_the_rest_of_a_rotated_file_then_the_new_one(tmp_path):
    path = tmp_path / "a.log"
    write_lines(path, range(3))
    file = LogFile(path)
    file.open_tail()
    write_lines(path, range(3, 5))  # written just before the rotation
    path.rename(tmp_path / "a.log.1")
    write_lines(path, range(5, 7), mode="w")
    update = file.poll()
    assert [line.text.split(" line ")[1].split()[0] for line in update.lines] == ["3", "4", "5", "6"]
    path.write_text(log_line(7))  # truncated in place and rewritten
    update = file.poll()
    assert update.reset and [line.text for line in update.lines] == [log_line(7).rstrip("\n")]


# -- the window --------------------------------------------------------------------------------------------


def test_follows_appended_lines_and_filters_by_level(ui):
    log = ui.app.data_dir.logs / "agent.log"
    write_lines(log, range(400), LEVEL_CYCLE)
    window = ui.app.open("logs")
    ui.pump(lambda: shown(window) and "line 399 " in shown(window)[-1], message="the tail shown")
    assert shown(window) == log.read_text().splitlines()
    ui.screenshot(window.top, "logs-window")

    started = time.monotonic()
    write_lines(log, range(400, 410), LEVEL_CYCLE)
    ui.pump(lambda: "line 409 " in shown(window)[-1], timeout=5, message="appended lines")
    assert time.monotonic() - started < 3
    assert window.text.yview()[1] >= 0.999  # it scrolled along

    window.set_level("WARNING")
    lines = shown(window)
    assert lines and all(" WARNING " in line or " ERROR " in line for line in lines)
    assert len(lines) == 204  # n % 4 in (2, 3) for n < 410
    write_lines(log, range(410, 414), LEVEL_CYCLE)  # WARNING ERROR DEBUG INFO
    ui.pump(lambda: window._file.end == log.stat().st_size and len(window._lines) == 414, timeout=5,
            message="appended lines read")
    assert [line.split(" line ")[1].split()[0] for line in shown(window)[-2:]] == ["410", "411"]
    window.set_level("DEBUG")
    assert len(shown(window)) == 414


def test_closing_waits_for_the_read_in_flight(ui, monkeypatch):
    """The read holds the window, and so Tk objects: its worker must be done when close() returns, or it
    could be the thread that frees them (windows/calls.py, BackgroundCalls.shutdown)."""
    write_lines(ui.app.data_dir.logs / "agent.log", range(10))
    reading = threading.Event()
    open_tail = LogFile.open_tail

    def slow_open_tail(self):
        reading.set()
        time.sleep(0.5)
        return open_tail(self)

    monkeypatch.setattr(LogFile, "open_tail", slow_open_tail)
    window = ui.app.open("logs")
    assert reading.wait(5)
    window.close()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("ui-logfile")]


def test_follows_rotation_and_shows_the_file_missing_state(ui):
    log = ui.app.data_dir.logs / "agent.log"
    window = ui.app.open("logs")
    ui.pump(lambda: window.empty.winfo_ismapped(), message="the empty state")
    assert "No log file yet" in window.empty.cget("text")
    ui.screenshot(window.top, "logs-no-file")
    write_lines(log, range(3))
    ui.pump(lambda: len(shown(window)) == 3, timeout=5, message="the file that appeared")
    assert not window.empty.winfo_ismapped()
    log.rename(log.with_name("agent.log.1"))
    write_lines(log, range(3, 6), mode="w")
    ui.pump(lambda: shown(window) and "line 5 " in shown(window)[-1], timeout=5, message="the rotated file")


def test_search_highlights_and_steps_through_matches(ui):
    log = ui.app.data_dir.logs / "agent.log"
    with open(log.parent.mkdir(parents=True, exist_ok=True) or log, "w") as f:
        for n in range(300):
            f.write(log_line(n, "INFO", "needle" if n % 100 == 7 else "hay"))
    window = ui.app.open("logs")
    ui.pump(lambda: len(shown(window)) == 300, message="file shown")
    window.search_var.set("NEEDLE")
    assert window.find(forward=True)
    first = window.text.index("current.first")
    assert first.startswith("8.")  # line 7 is the 8th line
    assert len(window.text.tag_ranges("match")) == 6  # 3 matches, start and end each
    window.find(forward=True)
    assert window.text.index("current.first").startswith("108.")
    window.find(forward=False)
    assert window.text.index("current.first").startswith("8.")
    window.find(forward=False)  # wraps around to the last one
    assert window.text.index("current.first").startswith("208.")
    assert window.match_label.cget("text") == "3 matches"
    ui.screenshot(window.top, "logs-search")
    window.search_var.set("absent")
    assert not window.find()
    assert window.match_label.cget("text") == "no match"


def test_copy_takes_the_selection_or_every_line_shown(ui):
    log = ui.app.data_dir.logs / "agent.log"
    write_lines(log, range(20), LEVEL_CYCLE)
    window = ui.app.open("logs")
    ui.pump(lambda: len(shown(window)) == 20, message="file shown")
    window.set_level("ERROR")
    assert window.copy() == "".join(log_line(n, "ERROR") for n in range(3, 20, 4))
    assert window.top.clipboard_get() == window.copy()
    window.text.tag_add("sel", "2.0", "2.end")
    assert window.copy() == log_line(7, "ERROR").rstrip("\n")


def test_pause_stops_following_and_resume_catches_up(ui):
    log = ui.app.data_dir.logs / "agent.log"
    write_lines(log, range(5))
    window = ui.app.open("logs")
    ui.pump(lambda: len(shown(window)) == 5, message="file shown")
    window.toggle_pause()
    write_lines(log, range(5, 8))
    ui.pump(timeout=1.5)
    assert len(shown(window)) == 5
    window.toggle_pause()
    ui.pump(lambda: len(shown(window)) == 8, timeout=5, message="caught up after resume")


def test_a_100_mb_log_opens_fast_without_reading_it_whole(ui, tmp_path):
    log = ui.app.data_dir.logs / "agent.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    block = "".join(log_line(n, LEVEL_CYCLE[n % 4], "x" * 60) for n in range(10_000))
    with open(log, "w", encoding="utf-8") as f:
        while f.tell() < 100 * 1024 * 1024:
            f.write(block)
    size = log.stat().st_size
    rss_before = psutil.Process().memory_info().rss
    started = time.monotonic()
    window = ui.app.open("logs")
    ui.pump(lambda: len(shown(window)) > 100, timeout=10, message="the tail of the big file")
    elapsed = time.monotonic() - started
    grown_mb = (psutil.Process().memory_info().rss - rss_before) / 1e6
    assert elapsed < 3.0, elapsed
    assert grown_mb < 80, grown_mb  # the file is 100 MB; the tail is 256 kB
    assert shown(window)[-1] == block.splitlines()[-1]
    assert "MB" in window.file_status.cget("text") and "older lines" in window.file_status.cget("text")
    before = len(shown(window))
    window.load_older()
    ui.pump(lambda: len(shown(window)) > before, timeout=5, message="older lines")
    assert window._file.start < size - 2 * window._file.tail_bytes + 400  # two chunks back, less cut lines
    assert shown(window)[-1] == block.splitlines()[-1]  # still the end of the file at the bottom
    os.truncate(log, 0)  # keep the disk light for the rest of the run
    ui.pump(lambda: len(shown(window)) == 0, timeout=5, message="the truncated file")


def test_logs_are_readable_while_the_service_is_down(ui, tmp_path):
    running = start_service(ui.app.data_dir.root)
    try:
        window = ui.app.open("logs")
        ui.pump(lambda: any("listening on" in line for line in shown(window)), timeout=10,
                message="the service's own log")
        ui.pump(lambda: ui.app.link.connected, message="connected")
        assert not window.banner.visible
    finally:
        running.stop()
    ui.pump(lambda: window.banner.visible, timeout=15, message="the service-down banner")
    ui.pump(lambda: any("stopping service" in line for line in shown(window)[-30:]),
            timeout=5, message="the service's last lines")
    assert window.banner.start_button.winfo_ismapped()
    ui.screenshot(window.top, "logs-service-down")


def test_the_logs_and_settings_windows_never_import_gevent_bottle_storage_crm_or_api():
    import subprocess
    import sys

    from tests.helpers import ROOT

    code = ("import sys, windows.app, windows.logs, windows.logfile, windows.settings, windows.forms, tray.supervisor;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('gevent', 'bottle', 'storage', 'crm', 'api'));"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
