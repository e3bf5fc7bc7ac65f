"""Keep the Tk thread free: network calls run on worker threads, results come back through a queue.

Tk is not thread-safe, so no other thread touches a widget. Workers put callables on `UiQueue`; the Tk
thread drains it every `interval_ms` with `after()` and runs them there.
"""

from __future__ import annotations

import logging
import queue
import time
import tkinter as tk
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class UiQueue:
    """Callables posted from any thread, run on the Tk thread in order."""

    def __init__(self, root: tk.Misc, interval_ms: int = 25, max_per_tick: int = 200) -> None:
        self._root = root
        self._queue: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._interval_ms = interval_ms
        # A flood of events must not starve Tk's own redraws: at most this many per tick.
        self._max_per_tick = max_per_tick
        self._after_id: str | None = None

    def start(self) -> None:
        self._after_id = self._root.after(self._interval_ms, self._drain)

    def stop(self) -> None:
        if self._after_id is not None:
            self._root.after_cancel(self._after_id)
            self._after_id = None

    def post(self, fn: Callable[[], Any]) -> None:
        """Thread-safe: run fn on the Tk thread soon."""
        self._queue.put(fn)

    def drain_now(self) -> int:
        """Run what is queued (the Tk thread only). Returns how many ran."""
        ran = 0
        while ran < self._max_per_tick:
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                break
            ran += 1
            try:
                fn()
            except Exception:
                log.exception("UI callback failed")
        return ran

    def _drain(self) -> None:
        self.drain_now()
        self._after_id = self._root.after(self._interval_ms, self._drain)


class BackgroundCalls:
    """Run blocking work off the Tk thread; deliver its result (or exception) on the Tk thread."""

    def __init__(self, ui: UiQueue, workers: int = 3) -> None:
        self._ui = ui
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ui-call")

    def submit(self, work: Callable[[], T], on_done: Callable[[T], Any],
               on_error: Callable[[Exception], Any] | None = None) -> None:
        def run() -> None:
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001 - handed to the Tk thread
                if on_error is None:
                    log.warning("background call failed: %s", exc)
                else:
                    self._ui.post(lambda error=exc: on_error(error))
                return
            self._ui.post(lambda: on_done(result))

        self._pool.submit(run)

    def shutdown(self) -> None:
        """Drop the calls not started yet and wait for the running ones (on the Tk thread, as the UI ends).

        A running call holds its callables and, through them, widgets and the Tk root. If a worker were the
        last to let go of the root (by reference count, or by a garbage collection that happens to run on
        it), Python would delete the Tcl interpreter on that thread and Tcl aborts the whole process
        ("Tcl_AsyncDelete: async handler deleted by the wrong thread"). After this returns no worker holds
        anything, so it is the Tk thread that lets go of the root. The wait is bounded by the calls' timeouts."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class Debouncer:
    """Coalesce bursts: `trigger()` as often as you like, `fn` runs at most once per `min_interval_ms` on the
    Tk thread (the first trigger after a quiet period runs at once; the rest of a burst runs once at the end)."""

    def __init__(self, root: tk.Misc, fn: Callable[[], Any], min_interval_ms: int = 500,
                 clock: Callable[[], float] | None = None) -> None:
        self._root = root
        self._fn = fn
        self._min_interval_s = min_interval_ms / 1000
        self._clock = clock or time.monotonic
        self._last_run = float("-inf")
        self._pending: str | None = None
        self.runs = 0
        # A pending run must not outlive its widget (Tk would call a deleted command).
        root.bind("<Destroy>", lambda event: self.cancel() if event.widget is root else None, add="+")

    def trigger(self) -> None:
        if self._pending is not None:
            return
        wait_s = self._last_run + self._min_interval_s - self._clock()
        if wait_s <= 0:
            self._run()
        else:
            self._pending = self._root.after(max(1, int(wait_s * 1000)), self._run)

    def cancel(self) -> None:
        if self._pending is not None:
            try:
                self._root.after_cancel(self._pending)
            except tk.TclError:
                pass  # the interpreter is already gone
            self._pending = None

    def _run(self) -> None:
        self._pending = None
        self._last_run = self._clock()
        self.runs += 1
        self._fn()
