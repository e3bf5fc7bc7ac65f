"""Keep pystray's X11 icon docked.

pystray's xorg backend sends one "dock me" request when the icon is shown and, if no tray host owns the
_NET_SYSTEM_TRAY_S<screen> selection at that moment (the agent started before the panel), logs an error
and never tries again; it also does not notice a tray host that starts later or restarts. This watcher
fixes that from the outside, without touching pystray's own event loop:

- it opens its own X connection and listens for the tray host's MANAGER announcement on the root window
  (the system tray spec broadcasts it when a host takes the selection) and for ReparentNotify on the icon
  window (the host embeds it; a dying host's save-set hands it back to the root);
- "docked" means: a selection owner exists and the icon window's parent is not the root window;
- while undocked and a host exists it asks pystray to dock again (Icon._show, which pystray runs in its
  own loop thread), retrying with a back-off of 1 s doubling to 30 s; while docked it just waits for events.

pystray 0.19.5's xorg backend also never selects ButtonPress on its window, so a click (its only action,
the default menu item) is never delivered: `enable_clicks` adds the mask on pystray's own connection.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class _QuietDockErrors(logging.Filter):
    """pystray logs a full traceback for every failed dock attempt; the watcher logs one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Failed to dock icon":
            record.exc_info = None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_pystray_dock_errors() -> None:
    logging.getLogger("pystray._base").addFilter(_QuietDockErrors())


def enable_clicks(icon) -> None:  # noqa: ANN001 - a pystray._xorg.Icon
    """Let pystray's window receive button presses. Event masks belong to a connection, so this must go through
    pystray's: call it before pystray's loop starts, while no other thread uses that connection."""
    import Xlib.X

    X = Xlib.X
    icon._window.change_attributes(
        event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask)
    icon._display.flush()


def close_icon_window(window_id: int, display_name: str | None = None) -> None:
    """End pystray's X11 loop by destroying its icon window through an X connection of our own (the server
    still sends the DestroyNotify pystray's window selected, and its loop ends by itself). Call it from a
    thread of its own, never from pystray's loop thread: that thread may hold an X server grab, and this
    connection would wait for it for ever (docs/decisions.md, "Desktop agent")."""
    import Xlib.display

    display = Xlib.display.Display(display_name)
    try:
        display.create_resource_object("window", window_id).destroy()
        display.sync()
    finally:
        display.close()


# The methods pystray's xorg backend runs on its loop thread (its _rewrite_implementation): a call from another
# thread sends the loop a ClientMessage named "_PYSTRAY_<METHOD>" and waits for the loop's answer on icon._queue.
LOOP_METHODS = ("_show", "_hide", "_update_icon", "_update_title", "_stop")


class LoopThreadCalls:
    """Keep pystray's X connection on pystray's loop thread alone.

    pystray's own dispatcher sends its ClientMessage through pystray's connection from the calling thread while
    the loop thread reads from that connection. python-xlib's hand-over between two threads on one connection
    can lose its wake-up: a tray in the test suite hung with its loop thread waiting inside get_geometry for a
    reply that another thread was supposed to read (tests/test_tray.py printed the stacks), and the icon then
    ignored clicks and never finished its set-up. Here the message goes through a connection of our own (one
    lock, short calls); the server still delivers it to the window's owner, pystray's loop, which runs the
    method and answers on its queue. Install before the loop starts.
    """

    def __init__(self, icon, display_name: str | None = None) -> None:  # noqa: ANN001 - a pystray._xorg.Icon
        import Xlib.display
        import Xlib.X

        self._X = Xlib.X
        self._event = Xlib.display.event
        self._icon = icon
        self._display = Xlib.display.Display(display_name)
        self._window = self._display.create_resource_object("window", icon._window.id)
        self._lock = threading.Lock()  # one caller at a time: pystray answers every caller on one queue
        for name in LOOP_METHODS:
            on_loop = getattr(icon, name)  # pystray's dispatcher: runs the method at once on the loop thread
            atom = self._display.intern_atom(f"_PYSTRAY_{name.upper()}")
            setattr(icon, name, self._dispatcher(on_loop, atom))

    def _dispatcher(self, on_loop: Callable[[], None], atom: int) -> Callable[[], None]:
        def call() -> None:
            # pystray sets _thread only after releasing the setup thread: until then every caller is "another".
            if threading.current_thread() is getattr(self._icon, "_thread", None):
                on_loop()
                return
            with self._lock:
                self._post(atom)
                result = self._icon._queue.get()
            if result is not True:
                raise result[1].with_traceback(result[2])

        return call

    def _post(self, atom: int) -> None:
        X = self._X
        message = self._event.ClientMessage(type=X.ClientMessage, client_type=atom, window=self._window.id,
                                            data=(32, (X.CurrentTime, 0, 0, 0, 0)))
        self._window.send_event(message, event_mask=X.NoEventMask)  # no mask: to the window's creator
        self._display.flush()

    def close(self) -> None:
        try:
            self._display.close()
        except Exception as exc:  # noqa: BLE001 - best effort at shutdown
            log.debug("ignored: %s", exc)


class DockWatcher:
    """Watches one icon window; `redock` asks pystray to send a dock request; `docked` runs after docking
    (to repaint: pystray skips image updates while undocked)."""

    RETRY_FIRST_S = 1.0
    RETRY_MAX_S = 30.0

    def __init__(self, window_id: int, redock: Callable[[], None], on_docked: Callable[[], None] | None = None,
                 display_name: str | None = None) -> None:
        import Xlib.display
        import Xlib.X

        self._X = Xlib.X
        self._display = Xlib.display.Display(display_name)
        self._root = self._display.screen().root
        self._window = self._display.create_resource_object("window", window_id)
        screen_no = self._display.get_default_screen()
        self._selection = self._display.intern_atom(f"_NET_SYSTEM_TRAY_S{screen_no}")
        self._manager_atom = self._display.intern_atom("MANAGER")
        self._redock = redock
        self._on_docked = on_docked
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self.docked = threading.Event()
        self.dock_count = 0  # times the icon became docked (1 after a normal start; +1 per host restart)
        self._thread = threading.Thread(target=self._run, name="dock-watcher", daemon=True)

    def start(self) -> None:
        X = self._X
        self._root.change_attributes(event_mask=X.StructureNotifyMask)  # MANAGER client messages
        self._window.change_attributes(event_mask=X.StructureNotifyMask)  # ReparentNotify, DestroyNotify
        self._display.flush()
        self._thread.start()

    def request_stop(self) -> None:
        """Stop watching without waiting (safe from pystray's loop thread, e.g. while quitting)."""
        self._stopping = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def stop(self) -> None:
        self.request_stop()
        self._thread.join(timeout=5)
        try:
            self._display.close()
        except Exception as exc:  # noqa: BLE001 - best effort
            log.debug("ignored: %s", exc)
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- state --------------------------------------------------------------------------------------

    def tray_host(self) -> int:
        """Window id of the tray host owning the selection, or 0."""
        owner = self._display.get_selection_owner(self._selection)
        return 0 if owner == self._X.NONE else owner.id

    def is_docked(self) -> bool:
        if not self.tray_host():
            return False
        try:
            parent = self._window.query_tree().parent
        except Exception:  # noqa: BLE001 - the window is gone: the icon stopped
            self._stopping = True
            return False
        return parent.id != self._root.id

    # -- loop ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        retry = self.RETRY_FIRST_S
        was_docked = False
        announced_missing = False
        try:
            while not self._stopping:
                docked = self.is_docked()
                if self._stopping:
                    break
                if docked and not was_docked:
                    self.dock_count += 1
                    log.info("tray icon docked in the tray host (window 0x%x)", self.tray_host())
                    self.docked.set()
                    retry = self.RETRY_FIRST_S
                    announced_missing = False
                    if self._on_docked:
                        self._on_docked()
                elif not docked and was_docked:
                    log.warning("tray icon lost its tray host; will dock again when one is available")
                    self.docked.clear()
                was_docked = docked
                timeout: float | None = None
                if not docked:
                    if self.tray_host():
                        log.info("tray icon not docked: asking the tray host (retry in %.0f s)", retry)
                        self._ask_redock()
                        timeout, retry = retry, min(retry * 2, self.RETRY_MAX_S)
                    else:
                        if not announced_missing:
                            log.warning("no system tray host yet (_NET_SYSTEM_TRAY selection has no owner); "
                                        "waiting for one to start")
                            announced_missing = True
                        timeout = self.RETRY_MAX_S  # the MANAGER message normally wakes us long before
                if self._wait_for_events(timeout):
                    retry = self.RETRY_FIRST_S  # a new tray host: ask it promptly, not after the old back-off
        except Exception:
            if not self._stopping:
                log.exception("dock watcher stopped")

    def _ask_redock(self) -> None:
        try:
            self._redock()
        except Exception as exc:  # noqa: BLE001 - pystray re-raises X errors from its loop thread
            log.info("dock request failed: %s", exc)

    def _wait_for_events(self, timeout: float | None) -> bool:
        """Block until an X event of interest arrives, the timeout passes, or stop() is called.
        True when a tray host announced itself (MANAGER message)."""
        X = self._X
        host_started = False
        if not self._display.pending_events():
            ready, _, _ = select.select([self._display.fileno(), self._wake_r], [], [], timeout)
            if self._wake_r in ready or not ready:
                return False
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == X.ClientMessage and event.client_type == self._manager_atom:
                log.info("a system tray host started")
                host_started = True
            elif event.type == X.DestroyNotify and event.window.id == self._window.id:
                self._stopping = True  # the icon window is gone: the icon stopped
        return host_started
