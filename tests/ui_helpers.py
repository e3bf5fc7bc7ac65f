"""Run the Tk windows in the test process on a private Xvfb display, against a real service.

`xvfb_display()` starts Xvfb on a free display (1024x768, the smallest screen the windows must fit);
`UiHarness` builds a real UiApp on it, `pump()` runs Tk's loop until a condition holds (the windows'
network calls run on their worker threads as in the product), and `screenshot()` saves a window as PNG
into the folder the test run prints at the end (SCREENSHOTS).
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

from core.paths import DataDir
from tests.helpers import ROOT  # noqa: F401 - re-exported for UI tests

SCREENSHOTS = Path(os.environ.get("CRM_AGENT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "crm-agent-screenshots")
SCREEN = "1024x768x24"

# Tcl interpreters still referenced when their harness closed: by the test's own frame when it closes the
# harness itself, by a failed test's frames (sys.last_traceback, until the next failure), or for good by the
# Tcl command matplotlib registers on it (mpl_blit_*). Kept until the process exits rather than left to be
# freed on whichever thread drops the last reference or runs the next garbage collection: on any thread but
# this one, freeing an interpreter aborts the whole test process.
_INTERPRETERS_KEPT: list[object] = []


def require_ui_binaries() -> None:
    missing = [b for b in ("Xvfb", "import") if shutil.which(b) is None]
    if missing:
        raise AssertionError(f"missing {missing}: run scripts/system-packages.sh --test (the test command does)")


class Xvfb:
    def __init__(self, process: subprocess.Popen, display: str) -> None:
        self.process = process
        self.display = display

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_xvfb(screen: str = SCREEN) -> Xvfb:
    require_ui_binaries()
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp"],
                               pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    with os.fdopen(read_fd, "rb") as pipe:
        while not number.endswith(b"\n"):
            chunk = pipe.read(1)
            if not chunk:
                raise AssertionError("Xvfb exited before reporting its display number")
            number += chunk
    return Xvfb(process, f":{int(number)}")


class UiHarness:
    """A real UiApp in this process (Tk must live on the test's main thread)."""

    def __init__(self, data_dir: Path, display: str, config=None) -> None:
        """config: a core.config Config (e.g. with ui.language set); None: the windows' defaults."""
        from windows.app import UiApp

        os.environ["DISPLAY"] = display
        self.display = display
        self.root = tk.Tk(className="CRM-Agent-test")
        self.root.withdraw()
        self.app = UiApp(self.root, DataDir(data_dir), config)
        self.app.quit = self._quit_without_leaving  # tests close windows; the loop is ours
        self.app.start()

    def _quit_without_leaving(self) -> None:
        for window in list(self.app.windows.values()):
            window.close()

    def pump(self, predicate=None, timeout: float = 30.0, message: str = "condition"):
        """Run Tk's loop until predicate() is truthy (returned), or for `timeout` when predicate is None."""
        deadline = time.monotonic() + timeout
        while True:
            self.root.update()
            if predicate is not None:
                value = predicate()
                if value:
                    return value
            if time.monotonic() > deadline:
                if predicate is None:
                    return None
                raise AssertionError(f"timed out after {timeout}s waiting for {message}")
            time.sleep(0.01)

    def screenshot(self, window: tk.Misc, name: str) -> Path:
        """Save what the X server shows for this toplevel (decorations excluded) as SCREENSHOTS/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.pump(timeout=0.2)
        path = SCREENSHOTS / f"{name}.png"
        target = hex(self._wrapper_of(window.winfo_toplevel().winfo_id()))
        subprocess.run(["import", "-display", self.display, "-window", target, str(path)], check=True, timeout=30)
        return path

    def _wrapper_of(self, window_id: int) -> int:
        """Tk puts a toplevel's client window (and its menu bar) inside a wrapper window: shoot the wrapper."""
        from Xlib import display as xdisplay

        conn = xdisplay.Display(self.display)
        try:
            parent = conn.create_resource_object("window", window_id).query_tree().parent
            root = conn.screen().root
            return window_id if parent is None or parent.id == root.id else parent.id
        finally:
            conn.close()

    def close(self) -> None:
        self._quit_without_leaving()
        self.app.shutdown()  # waits for the windows' worker threads: none of them holds a Tk object now
        interpreter = self.root.tk
        try:
            self.root.destroy()
        except tk.TclError:
            pass
        # Free the Tcl interpreter now, on the Tk thread: freed on another thread (by reference count or by a
        # garbage collection that happens to run there), Tcl aborts the whole test process.
        self.app = self.root = None
        gc.collect()
        if sys.getrefcount(interpreter) > 2:  # more than `interpreter` and getrefcount's own argument
            _INTERPRETERS_KEPT.append(interpreter)
        del interpreter  # the last reference: the interpreter is deleted here


def tray_pid(data_dir: Path) -> int | None:
    """The pid of the desktop agent (tray) on this data directory, once its listener is up."""
    try:
        return int((Path(data_dir) / "tray.instance").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def quit_desktop_agent(data_dir: Path) -> None:
    """A desktop agent a window started (Start, Restart now) outlives the window: quit it as the windows do."""
    import psutil

    from desktop.instance import QUIT, TRAY, hand_over

    pid = tray_pid(data_dir)
    if pid is None:
        return
    hand_over(Path(data_dir), QUIT, timeout=5, name=TRAY)
    try:
        psutil.Process(pid).wait(30)  # our child (in its own session): this reaps it too
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
    except psutil.Error:
        pass
